/*
 * tensorcast.h - the public contract of libtensorcast.
 *
 * One pipeline: a format reader turns files into a tc_graph (ordered tensors + ordered typed
 * metadata + licence + provenance); transforms (casts, quantization) rewrite tensors lazily;
 * a writer streams the graph out, row chunk by row chunk, into a temporary file that is renamed
 * into place only when complete.
 *
 * Conventions
 * - Every fallible function returns a tc_status and fills the caller's tc_err (the first error
 *   wins). Nothing in the library prints, exits or aborts on bad input.
 * - `T **out` parameters are written only on success (set to NULL on failure).
 * - Shapes are outermost-first (row-major, as PyTorch/NumPy/safetensors); a tensor's rows run
 *   along its innermost dimension.
 * - Strings returned by the graph are NUL-terminated and valid until the graph is freed.
 */
#ifndef TENSORCAST_H
#define TENSORCAST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"
#include "tc_dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TC_PRINTF(a, b)
#endif

#define TC_VERSION_STRING "0.1.0"

/* Worker threads of one conversion: more are clamped to this (tc_write_opts.threads, verify). */
#define TC_MAX_THREADS 64

/* ===== Errors ===== */

typedef enum tc_status {
    TC_OK = 0,
    TC_E_IO = 1,          /* read/write/rename failed, disk full */
    TC_E_NOMEM = 2,       /* allocation failed */
    TC_E_FORMAT = 3,      /* malformed input */
    TC_E_UNSUPPORTED = 4, /* valid input we do not handle, or output a format cannot hold */
    TC_E_LIMIT = 5,       /* over a documented cap */
    TC_E_CHECKSUM = 6,    /* bytes differ from their recorded digest */
    TC_E_UNSAFE = 7,      /* pickle global not on the allow-list */
    TC_E_USAGE = 8        /* the caller broke the contract */
} tc_status;

typedef struct tc_err {
    tc_status code;
    int sys_errno; /* errno of a failed system call, or 0 */
    char msg[512];
} tc_err;

/* Record the first error on `e` (later calls keep it) and return `code`. `e` may be NULL. */
TC_API tc_status tc_err_set(tc_err *e, tc_status code, const char *fmt, ...) TC_PRINTF(3, 4);
/* TC_E_NOMEM with the message "out of memory". */
TC_API tc_status tc_err_nomem(tc_err *e);
/* Same, appending ": strerror(errnum)" and keeping errnum in sys_errno. */
TC_API tc_status tc_err_sys(tc_err *e, tc_status code, int errnum, const char *fmt, ...)
    TC_PRINTF(4, 5);
TC_API void tc_err_clear(tc_err *e);
/* "format error", "I/O error", ... */
TC_API const char *tc_status_name(tc_status s);

#define TC_TRY(expr)                                                                               \
    do {                                                                                           \
        tc_status tc_rc_ = (expr);                                                                 \
        if (tc_rc_ != TC_OK)                                                                       \
            return tc_rc_;                                                                         \
    } while (0)

/* ===== Memory ===== */

/* All library allocation goes through these; tc_free(NULL) is a no-op. */
TC_API void *tc_malloc(size_t n);
TC_API void *tc_calloc(size_t n, size_t size);
TC_API void *tc_realloc(void *p, size_t n);
TC_API void tc_free(void *p);
TC_API char *tc_strdup(const char *s);
/* Test hook: make the `nth` allocation from now on fail (0 = the next one); -1 turns it off.
 * @return how many allocations happened since the last call. */
TC_API long tc_alloc_fail_after(long nth);

/* ===== Mapped input files ===== */

typedef struct tc_map tc_map; /* refcounted, read-only view of a whole file */

/* Map `path` read-only (PROT_READ, MAP_PRIVATE). An empty file gives a map of size 0. */
TC_API tc_status tc_map_open(const char *path, tc_map **out /* OUT */, tc_err *e);
/* Wrap caller memory (not copied; must outlive the map). `name` is used in messages. */
TC_API tc_status tc_map_memory(const void *data, size_t n, const char *name, tc_map **out /* OUT */,
                               tc_err *e);
TC_API tc_map *tc_map_ref(tc_map *m);
TC_API void tc_map_unref(tc_map *m); /* NULL is a no-op */
TC_API const uint8_t *tc_map_data(const tc_map *m);
TC_API uint64_t tc_map_size(const tc_map *m);
TC_API const char *tc_map_path(const tc_map *m);
TC_API int tc_map_fd(const tc_map *m); /* -1 for memory maps */
/* Copy bytes [off, off+n) out of the map (pread for files, so pages are not kept resident). */
TC_API tc_status tc_map_read(const tc_map *m, uint64_t off, void *dst, size_t n, tc_err *e);

/* ===== Metadata values (GGUF's value types, same numbering) ===== */

typedef enum tc_vtype {
    TC_V_U8 = 0,
    TC_V_I8 = 1,
    TC_V_U16 = 2,
    TC_V_I16 = 3,
    TC_V_U32 = 4,
    TC_V_I32 = 5,
    TC_V_F32 = 6,
    TC_V_BOOL = 7,
    TC_V_STR = 8,
    TC_V_ARR = 9,
    TC_V_U64 = 10,
    TC_V_I64 = 11,
    TC_V_F64 = 12,
    TC_V_COUNT = 13
} tc_vtype;

typedef struct tc_str {
    const char *p; /* NUL-terminated when owned by a graph; may hold embedded NULs */
    uint64_t len;  /* bytes, without the terminator */
} tc_str;

/*
 * One value. Scalars: unsigned types and BOOL in `u`, signed in `i`, F32/F64 in `f`.
 * Arrays: `arr.data` holds `arr.n` elements: packed little-endian numbers of the element type
 * (BOOL one byte each), tc_str for STR, tc_value for ARR (nested arrays).
 */
typedef struct tc_value {
    tc_vtype type;
    union {
        uint64_t u;
        int64_t i;
        double f;
        tc_str s;
        struct {
            tc_vtype elem;
            uint64_t n;
            const void *data;
        } arr;
    };
} tc_value;

/* Byte size of one scalar of type `t` (0 for STR/ARR). */
TC_API size_t tc_vtype_size(tc_vtype t);
/* "u8", "i32", "f32", "bool", "str", "arr", ... */
TC_API const char *tc_vtype_name(tc_vtype t);
/* Parse a name from tc_vtype_name(); -1 if unknown. */
TC_API int tc_vtype_from_name(const char *name);
/* Integer value of a scalar integer/bool value; 0 when it is not one or does not fit. */
TC_API int tc_value_to_u64(const tc_value *v, uint64_t *out);
TC_API int tc_value_to_i64(const tc_value *v, int64_t *out);

/* ===== Tensors ===== */

#define TC_MAX_DIMS 8 /* safetensors/PyTorch allow more than GGUF's 4; writers check their own */
#define TC_MAX_NAME 4096
/* bytes of a metadata key (GGUF's and safetensors' readers, the graph) */
#define TC_MAX_KEY 65535

typedef struct tc_graph tc_graph;
typedef struct tc_tensor tc_tensor;

TC_API const char *tc_tensor_name(const tc_tensor *t);
TC_API tc_dtype tc_tensor_dtype(const tc_tensor *t);
TC_API int tc_tensor_n_dims(const tc_tensor *t);
TC_API const int64_t *tc_tensor_shape(const tc_tensor *t); /* outermost first, n_dims entries */
TC_API uint64_t tc_tensor_n_elements(const tc_tensor *t);
TC_API uint64_t tc_tensor_nbytes(const tc_tensor *t);
TC_API int64_t tc_tensor_row_len(const tc_tensor *t); /* innermost dim; 1 for a 0-d scalar */
TC_API uint64_t tc_tensor_n_rows(const tc_tensor *t); /* n_elements / row_len (0 when empty) */

/*
 * Lazy source: produce elements [e0, e0+n) of the tensor in its dtype into `dst`
 * (tc_row_size(dtype, n) bytes). e0 and n are multiples of the dtype's block size; for block
 * dtypes the caller asks whole rows. Must be safe to call from several threads at once.
 */
typedef tc_status (*tc_read_fn)(void *ctx, const tc_tensor *t, uint64_t e0, uint64_t n, void *dst,
                                tc_err *e);

/* Give the tensor bytes [off, off+nbytes) of `m` (checked in bounds; takes a reference). */
TC_API tc_status tc_tensor_set_mapped(tc_tensor *t, tc_map *m, uint64_t off, tc_err *e);
/* Give the tensor a buffer from tc_malloc of exactly nbytes; the graph owns it from now on
 * (also on failure). */
TC_API tc_status tc_tensor_set_owned(tc_tensor *t, void *data, uint64_t nbytes, tc_err *e);
/* Give the tensor a lazy source; `free_ctx(ctx)` runs when the graph is freed (also on
 * failure). */
TC_API tc_status tc_tensor_set_lazy(tc_tensor *t, tc_read_fn fn, void *ctx,
                                    void (*free_ctx)(void *), tc_err *e);

/* Read elements [e0, e0+n) (block-aligned) of `t` into dst. Thread-safe. */
TC_API tc_status tc_tensor_read(const tc_tensor *t, uint64_t e0, uint64_t n, void *dst, tc_err *e);
/* 1 and the map/offset when the tensor is a plain region of a file (writers copy it with
 * copy_file_range), else 0. */
TC_API int tc_tensor_mapped(const tc_tensor *t, const tc_map **m, uint64_t *off);

/*
 * Make `t` read as `dtype`: a lazy conversion through f32 (casts round to nearest even; NaN and
 * infinities are kept; block types are quantized exactly as ggml does, with `imatrix` (NULL or
 * row_len weights, copied) as importance weights). Same dtype: no-op.
 * TC_E_UNSUPPORTED when one side cannot be converted or the row is not a multiple of the block.
 */
TC_API tc_status tc_tensor_convert(tc_tensor *t, tc_dtype dtype, const float *imatrix, tc_err *e);
/* Same with `n_groups` rows of importance weights (n_groups * row_len values): the tensor's
 * rows split into n_groups equal runs (the experts of a 3-D tensor), run k quantized with
 * weights row k, as llama-quantize does per expert. TC_E_USAGE when the rows do not split. */
TC_API tc_status tc_tensor_convert_grouped(tc_tensor *t, tc_dtype dtype, const float *imatrix,
                                           uint64_t n_groups, tc_err *e);

/* ===== Graph ===== */

TC_API tc_graph *tc_graph_new(void);    /* NULL when out of memory */
TC_API void tc_graph_free(tc_graph *g); /* NULL is a no-op */

TC_API size_t tc_graph_n_tensors(const tc_graph *g);
TC_API tc_tensor *tc_graph_tensor(const tc_graph *g, size_t i);
TC_API tc_tensor *tc_graph_find(const tc_graph *g, const char *name);
/*
 * Append a tensor without a data source yet (set one with tc_tensor_set_*). Checks: name
 * non-empty, shorter than TC_MAX_NAME and unique; n_dims <= TC_MAX_DIMS; dims >= 0; the element
 * count and byte size do not overflow; the innermost dim is a multiple of the dtype block size.
 */
TC_API tc_status tc_graph_add_tensor(tc_graph *g, const char *name, tc_dtype dtype, int n_dims,
                                     const int64_t *shape, tc_tensor **out /* OUT */, tc_err *e);
TC_API tc_status tc_graph_rename_tensor(tc_graph *g, tc_tensor *t, const char *name, tc_err *e);
/* Drop a tensor (its source is released). */
TC_API void tc_graph_remove_tensor(tc_graph *g, tc_tensor *t);
/* Reorder tensors: `cmp` as for qsort over tensor pointers (stable). */
TC_API void tc_graph_sort_tensors(tc_graph *g, int (*cmp)(const tc_tensor *a, const tc_tensor *b));
/* Keep only the tensors whose name matches one of `include` (all when n_include is 0) and none
 * of `exclude` (POSIX extended regexes, searched anywhere in the name, like grep -E). The
 * dropped tensors' sources are released; *n_dropped (may be NULL) counts them. A bad regex is
 * TC_E_USAGE naming it, and then nothing is dropped. */
TC_API tc_status tc_graph_select_tensors(tc_graph *g, const char *const *include, size_t n_include,
                                         const char *const *exclude, size_t n_exclude,
                                         size_t *n_dropped, tc_err *e);
/* Put the tensors in the given order: `order` holds each of the graph's n tensors once
 * (TC_E_USAGE otherwise, and the graph is unchanged). */
TC_API tc_status tc_graph_order_tensors(tc_graph *g, const tc_tensor *const *order, size_t n,
                                        tc_err *e);

/* Metadata: ordered key/value pairs. */
TC_API size_t tc_graph_n_kv(const tc_graph *g);
TC_API const char *tc_graph_kv_key(const tc_graph *g, size_t i);
TC_API const tc_value *tc_graph_kv_value(const tc_graph *g, size_t i);
TC_API const tc_value *tc_graph_get(const tc_graph *g, const char *key); /* NULL when absent */
/* The string value of `key`, or NULL when absent or not a string. */
TC_API const char *tc_graph_get_str(const tc_graph *g, const char *key);
/* Set (deep copy; replaces in place or appends). Keys: 1..TC_MAX_KEY bytes. */
TC_API tc_status tc_graph_set(tc_graph *g, const char *key, const tc_value *v, tc_err *e);
TC_API tc_status tc_graph_set_str(tc_graph *g, const char *key, const char *s, tc_err *e);
TC_API tc_status tc_graph_set_u32(tc_graph *g, const char *key, uint32_t v, tc_err *e);
TC_API int tc_graph_del(tc_graph *g, const char *key); /* 1 when something was removed */

/* Licence, kept in the standard GGUF keys general.license (SPDX id), general.license.name and
 * general.license.link, plus where it was found. */
typedef struct tc_license {
    const char *id;     /* SPDX expression, or NULL */
    const char *name;   /* human name, or NULL */
    const char *link;   /* URL, or NULL */
    const char *source; /* where it came from ("GGUF general.license", "README.md", ...) */
} tc_license;
TC_API void tc_graph_license(const tc_graph *g, tc_license *out);
/* Set any of the three fields (NULL leaves it as is; "" removes it) and the source note. */
TC_API tc_status tc_graph_set_license(tc_graph *g, const char *id, const char *name,
                                      const char *link, const char *source, tc_err *e);

/* Provenance and reader notes. */
TC_API tc_status tc_graph_set_format(tc_graph *g, const char *format, const char *version,
                                     tc_err *e);
TC_API const char *tc_graph_format(const tc_graph *g);         /* "gguf", "safetensors", ... */
TC_API const char *tc_graph_format_version(const tc_graph *g); /* "3", ... or NULL */
TC_API tc_status tc_graph_add_source(tc_graph *g, const char *path, uint64_t size, tc_err *e);
TC_API size_t tc_graph_n_sources(const tc_graph *g);
TC_API const char *tc_graph_source(const tc_graph *g, size_t i, uint64_t *size);
/* Notes a reader leaves for `inspect` ("skipped non-tensor entry 'epoch'"). */
TC_API tc_status tc_graph_add_note(tc_graph *g, tc_err *e, const char *fmt, ...) TC_PRINTF(3, 4);
TC_API size_t tc_graph_n_notes(const tc_graph *g);
TC_API const char *tc_graph_note(const tc_graph *g, size_t i);
/* Copy a string into the graph's arena (lives as long as the graph). NULL on OOM. */
TC_API const char *tc_graph_strdup(tc_graph *g, const char *s, size_t n);

/* ===== Output files ===== */

typedef struct tc_out tc_out;

/* Open a temporary file beside `path` (same directory, so the final rename is atomic). A symlink
 * is followed to the file it names (replaced there, the link kept, as cp does); a directory,
 * device, FIFO or socket is refused (TC_E_USAGE). `no_sync`: finishing skips the fsync. */
TC_API tc_status tc_out_open(const char *path, int no_sync, tc_out **out /* OUT */, tc_err *e);
/* The file `path` resolves to as an output (see tc_out_open); *real is tc_malloc'd. */
TC_API tc_status tc_out_resolve(const char *path, char **real /* OUT */, tc_err *e);
/* TC_E_USAGE when `path` exists and is the same file (device and inode) as one of g's
 * sources: writers check every file they will write (parts, shards, index) before any. */
TC_API tc_status tc_out_check_inputs(const tc_graph *g, const char *path, tc_err *e);
TC_API tc_status tc_out_write(tc_out *o, const void *data, size_t n, tc_err *e);
TC_API tc_status tc_out_zeros(tc_out *o, uint64_t n, tc_err *e);
/* Append bytes [off, off+n) of `m` (copy_file_range when possible, else pread/write). */
TC_API tc_status tc_out_copy(tc_out *o, const tc_map *m, uint64_t off, uint64_t n, tc_err *e);
TC_API uint64_t tc_out_tell(const tc_out *o);
TC_API const char *tc_out_path(const tc_out *o); /* the final path */
/* Flush, fsync and close the temporary file (not yet renamed). */
TC_API tc_status tc_out_finish(tc_out *o, tc_err *e);
/* Finish if needed, rename into place, free. On failure the temp file is removed and freed. */
TC_API tc_status tc_out_commit(tc_out *o, tc_err *e);
/* Remove the temporary file and free (NULL is a no-op). */
TC_API void tc_out_abort(tc_out *o);
/* Async-signal-safe: unlink every temporary file still open (for a SIGINT handler). */
TC_API void tc_out_cleanup_all(void);
/* Where the library says something worth knowing that is not an error (e.g. a temporary file
 * left beside an output by an earlier run that was killed). NULL (the default): silent. */
TC_API void tc_set_notice(void (*fn)(void *ctx, const char *msg), void *ctx);
/* Same, returning how many were removed. */
TC_API int tc_out_cleanup_all_count(void);

/* ===== Formats ===== */

typedef struct tc_progress {
    void (*fn)(void *ctx, uint64_t done, uint64_t total); /* bytes of payload */
    void *ctx;
    void (*item)(void *ctx, const char *name); /* the tensor / file now being worked on, or NULL */
} tc_progress;

typedef struct tc_read_opts {
    int reserved;
} tc_read_opts;

typedef struct tc_write_opts {
    uint64_t max_shard_bytes;   /* split output above this many bytes (0: one file) */
    uint64_t max_shard_tensors; /* GGUF: split after this many tensors (0: no limit) */
    /* GGUF: the output part of each tensor, in graph order, non-decreasing from 0 (a new part
     * starts where the value changes), or NULL. Overrides the two limits above. */
    const uint32_t *part_of;
    /* GGUF split outputs: write only the files k (from 1) with (k - 1) mod part_count ==
     * part_index - 1, byte for byte as the run without them writes them (0: every file). N
     * runs with part_index 1..N, anywhere and in any order, together write the whole set;
     * only the tensors of their own files are read. Each file records the provenance digests
     * of its own tensors; the sources are hashed by the run that writes file 1. */
    uint32_t part_index, part_count;
    uint32_t alignment; /* GGUF data alignment (0: general.alignment or 32) */
    int threads;        /* worker threads for lazy conversions (0: all cores) */
    int no_sync;        /* 1: do not fsync outputs before renaming them (faster; a crash
                           may then leave a renamed but incomplete file) */
    /* GGUF: record tensorcast.provenance.* keys (this command description, the sources'
     * names, sizes and SHA-256, every tensor's xxh64 as written); NULL: none. */
    const char *provenance;
    tc_progress progress;
    /* Filled by the writer: the files written (first one is the entry point). */
    char **written;
    size_t n_written;
} tc_write_opts;

/* Stream one tensor's payload into `o`, chunk by chunk (threads from opts). */
TC_API tc_status tc_out_write_tensor(tc_out *o, const tc_tensor *t, const tc_write_opts *opt,
                                     uint64_t *progress_done, uint64_t progress_total, tc_err *e);

#define TC_PROBE_BYTES 4096

typedef struct tc_format {
    const char *name;        /* "gguf": the --to spelling */
    const char *const *exts; /* { ".gguf", NULL } */
    /* Bid on the first bytes of a file (head NULL and n 0 for a directory): 0 not mine,
     * 10 the name fits, 100 the magic matched. */
    int (*probe)(const uint8_t *head, size_t n, const char *path);
    /* Read a path (file or directory) into `g`. */
    tc_status (*read)(const char *path, tc_graph *g, const tc_read_opts *opt, tc_err *e);
    /* Read one in-memory/mapped file (fuzzers, archive members); NULL if not supported. */
    tc_status (*read_map)(tc_map *m, tc_graph *g, const tc_read_opts *opt, tc_err *e);
    /* Write `g` to `path`; NULL: read-only format. */
    tc_status (*write)(const tc_graph *g, const char *path, tc_write_opts *opt, tc_err *e);
    /* The dtype a tensor of `dtype` is stored as when written (itself when the format holds it,
     * e.g. safetensors dequantizes block types to f32), TC_DTYPE_NONE when the format cannot
     * hold it at all; NULL: read-only format. */
    tc_dtype (*stores_as)(tc_dtype dtype);
} tc_format;

TC_API size_t tc_format_count(void);
TC_API const tc_format *tc_format_at(size_t i);
TC_API const tc_format *tc_format_by_name(const char *name);
/* The writable format whose extension `path` ends with, or NULL. */
TC_API const tc_format *tc_format_for_path(const char *path);
/* The reader that bids highest for `path`; TC_E_UNSUPPORTED when none does. */
TC_API tc_status tc_format_detect(const char *path, const tc_format **out /* OUT */, tc_err *e);

/* Read any supported input (file or directory) into a new graph. */
TC_API tc_status tc_read(const char *path, tc_graph **out /* OUT */, const tc_read_opts *opt,
                         tc_err *e);
/* Write `g` as `format` ("gguf", "safetensors"; NULL: from the extension of `path`). */
TC_API tc_status tc_write(const tc_graph *g, const char *path, const char *format,
                          tc_write_opts *opt, tc_err *e);

/* ===== Integrity ===== */

/* When `path` is a zip container (PyTorch checkpoint, .npz, .zip), recompute the CRC-32 of every
 * member (streaming) and compare it with the central directory: TC_E_CHECKSUM naming the first
 * member that differs. *n_checked gets the number of members checked (0: not a zip). */
TC_API tc_status tc_verify_zip_crc(const char *path, uint64_t *n_checked, tc_err *e);

/* ===== Stores: downloads checked against the digests their store records (store.c) ===== */

typedef enum tc_store_kind {
    TC_STORE_NONE = 0,
    TC_STORE_HF_CACHE,     /* ~/.cache/huggingface/hub/models--ORG--NAME (repo, snapshot, file) */
    TC_STORE_HF_LOCAL_DIR, /* huggingface-cli download --local-dir (.cache/huggingface/download) */
    TC_STORE_OLLAMA        /* an ollama manifest (manifests/REGISTRY/NS/MODEL/TAG) */
} tc_store_kind;

enum {
    TC_STORE_UNCHECKED = 0,
    TC_STORE_OK,
    TC_STORE_MISMATCH,   /* bytes differ from the recorded digest */
    TC_STORE_MISSING,    /* the blob is not there */
    TC_STORE_DANGLING,   /* a snapshot link whose blob is gone */
    TC_STORE_SIZE,       /* size differs from the recorded size (ollama) */
    TC_STORE_UNRECORDED, /* no digest recorded for this file (a copy, not a link) */
    TC_STORE_IOERR
};

typedef struct tc_store_entry {
    const char *file;       /* name in the snapshot / manifest */
    const char *path;       /* where the bytes are */
    const char *algo;       /* "sha256", "git-sha1" (git blob hash), or NULL */
    const char *expected;   /* recorded digest (hex), or NULL */
    uint64_t expected_size; /* recorded size, UINT64_MAX when none */
    const char *media_type; /* ollama layer media type, or NULL */
    int status;             /* TC_STORE_* */
    char actual[65];        /* computed digest (hex) */
    uint64_t size;          /* bytes found */
} tc_store_entry;

typedef struct tc_store tc_store;

/* What kind of store `path` is in (TC_STORE_NONE: a plain file or directory). */
TC_API tc_store_kind tc_store_detect(const char *path);
TC_API const char *tc_store_kind_name(tc_store_kind k); /* "hf-cache", "hf-local-dir", "ollama" */
TC_API const char *tc_store_status_name(int status);
/* List what the store records for `path` (nothing hashed yet). A cache repository uses the
 * snapshot refs/main names (or its only snapshot). */
TC_API tc_status tc_store_open(const char *path, tc_store **out /* OUT */, tc_err *e);
/* Hash every listed file (`threads` at once, 0: all cores) and set each entry's status. */
TC_API tc_status tc_store_verify(tc_store *s, int threads, const tc_progress *progress, tc_err *e);
TC_API void tc_store_free(tc_store *s);
TC_API tc_store_kind tc_store_kind_of(const tc_store *s);
TC_API const char *tc_store_root(const tc_store *s);  /* snapshot / local dir / models dir */
TC_API const char *tc_store_model(const tc_store *s); /* ollama: the model layer's blob, or NULL */
/* ollama: the licence layer, or NULL */
TC_API const char *tc_store_license_text(const tc_store *s);
TC_API size_t tc_store_count(const tc_store *s);
TC_API const tc_store_entry *tc_store_entry_at(const tc_store *s, size_t i);
/* The manifest of ollama model `ref` ([REGISTRY/][NAMESPACE/]MODEL[:TAG]) under `models_dir`
 * (NULL: $OLLAMA_MODELS, else ~/.ollama/models); *out is tc_malloc'd. */
TC_API tc_status tc_store_ollama_manifest(const char *ref, const char *models_dir, char **out,
                                          tc_err *e);

/* ===== Bundles for devices (pack.c) ===== */

/* One member of a bundle: a file (`src`), or `size` bytes at `data` when src is NULL. */
typedef struct tc_pack_member {
    const char *src;
    const char *name; /* path inside the bundle (relative, no "..") */
    const void *data;
    size_t size;
} tc_pack_member;

typedef struct tc_pack_opts {
    tc_progress progress; /* bytes of members packed */
} tc_pack_opts;

/* Write a .tar.zst / .tar.gz / .tar.xz / .tar bundle of the members, in order, then a
 * SHA256SUMS member that `sha256sum -c` accepts after extraction. Streaming, deterministic
 * (mtime SOURCE_DATE_EPOCH or 0, owner 0:0, mode 0644), temporary file renamed when complete. */
TC_API tc_status tc_pack_write(const char *out, const tc_pack_member *members, size_t n,
                               const tc_pack_opts *opt, tc_err *e);

enum {
    TC_BUNDLE_OK = 0,
    TC_BUNDLE_MISMATCH, /* the member's bytes differ from SHA256SUMS */
    TC_BUNDLE_ABSENT,   /* listed in SHA256SUMS, not in the bundle */
    TC_BUNDLE_UNLISTED, /* in the bundle, not listed */
    TC_BUNDLE_MALFORMED /* a SHA256SUMS line that is not "<64 hex>  <name>" */
};
typedef struct tc_bundle_result {
    const char *name;
    int status; /* TC_BUNDLE_* */
    char expected[65], actual[65];
} tc_bundle_result;

/* 1 when `path` is named like a bundle (.tar.zst, .tar, .tar.gz, .tgz, .tar.xz). */
TC_API int tc_bundle_detect(const char *path);
/* Hash every member of a bundle (streaming) against its SHA256SUMS. TC_E_FORMAT when there is
 * no SHA256SUMS or no valid line in it; TC_E_CHECKSUM when the archive itself is damaged. */
TC_API tc_status tc_bundle_check(const char *path, tc_bundle_result **out /* OUT */, size_t *n,
                                 char **tensor_sums /* OUT, may be NULL */, tc_err *e);
/* The member `tensorcast pack` adds with one "sha256  <hex>  <member>:<tensor>" line per tensor,
 * so that a damaged model member can be narrowed to the tensors at fault. tc_bundle_check
 * returns its text (tc_malloc'd) through `tensor_sums` when asked. */
#define TC_BUNDLE_TENSOR_SUMS "TENSORS.sha256"
TC_API void tc_bundle_results_free(tc_bundle_result *r, size_t n);

/* ===== Licence files ===== */

/* Look for licence information beside a model directory (README.md front matter `license:`,
 * `license_name:`, `license_link:`; a LICENSE file) and record it in `g` where the graph has
 * none. `dir` may be a file path: its directory is used. */
TC_API tc_status tc_license_from_dir(tc_graph *g, const char *dir, tc_err *e);

/*
 * What a licence lets a user do (formats/license_class.c: a table of SPDX / Hugging Face Hub
 * ids and the model licences, each entry with its source URL). Information, not legal advice.
 */
typedef enum tc_license_class {
    TC_LICENSE_UNKNOWN = 0,    /* not in the table (also `other` with an unknown name) */
    TC_LICENSE_PERMISSIVE,     /* commercial use and changes allowed; notice duties at most */
    TC_LICENSE_COPYLEFT,       /* share-alike, weak or strong */
    TC_LICENSE_RESTRICTED_USE, /* use-based restrictions or user thresholds */
    TC_LICENSE_NON_COMMERCIAL, /* -NC licences, research-only terms */
    TC_LICENSE_PROPRIETARY
} tc_license_class;

typedef struct tc_license_facts {
    const char *id;   /* canonical id ("apache-2.0", "llama3.1"), NULL when unknown */
    const char *name; /* human name, NULL when unknown */
    tc_license_class cls;
    const char *notes[5]; /* the facts behind the class (NULL-terminated) */
} tc_license_facts;

/* Classify a licence from its id (SPDX or Hub id; `other`/`unknown` defer to the name) and/or
 * name (a Hub license_name or the title of the text). Static strings; never fails. */
TC_API void tc_license_classify(const char *id, const char *name, tc_license_facts *out);
/* "permissive", "copyleft", "restricted-use", "non-commercial", "proprietary", "unknown". */
TC_API const char *tc_license_class_name(tc_license_class c);
/* Parse a name from tc_license_class_name(); -1 if unknown. */
TC_API int tc_license_class_from_name(const char *s);
/* Recognise a licence text (a LICENSE file: the SPDX texts and the model licences by their
 * titles); its canonical id, or NULL. */
TC_API const char *tc_license_identify_text(const char *text, size_t n);

/* ===== Importance matrices (llama-imatrix output; formats/imatrix.c) ===== */

/*
 * An importance matrix: per weight tensor, the mean squared activation of each input column
 * (one row's worth of weights per matrix; 3-D expert tensors have one row per expert, back to
 * back). Read from llama-imatrix's GGUF files (`<name>.in_sum2` sums + `<name>.counts`,
 * values = sums / count, 1 where count is 0) or legacy .dat files (values = sums / ncall),
 * exactly as llama-quantize loads them.
 */
typedef struct tc_imatrix tc_imatrix;

TC_API tc_status tc_imatrix_load(const char *path, tc_imatrix **out /* OUT */, tc_err *e);
/* Same from a map (fuzzers, archive members); the map's name is used in messages. */
TC_API tc_status tc_imatrix_load_map(tc_map *m, tc_imatrix **out /* OUT */, tc_err *e);
TC_API void tc_imatrix_free(tc_imatrix *im); /* NULL is a no-op */
TC_API size_t tc_imatrix_count(const tc_imatrix *im);
/* Entry `i`: its tensor name, and its `*n` values (valid until the matrix is freed). */
TC_API const char *tc_imatrix_name(const tc_imatrix *im, size_t i);
TC_API const float *tc_imatrix_values(const tc_imatrix *im, size_t i, uint64_t *n);
/* The values for tensor `name`, or NULL when the matrix has none. */
TC_API const float *tc_imatrix_find(const tc_imatrix *im, const char *name, uint64_t *n);
/* llama-quantize's --include-weights / --exclude-weights: keep only entries whose name contains
 * one of `include` (when n_include > 0), then drop those containing one of `exclude`. */
TC_API void tc_imatrix_filter(tc_imatrix *im, const char *const *include, size_t n_include,
                              const char *const *exclude, size_t n_exclude);
/* The first dataset name recorded (NULL if none), the number of chunks (-1 if unknown), and
 * whether the file was the legacy .dat format. */
TC_API const char *tc_imatrix_dataset(const tc_imatrix *im);
TC_API int64_t tc_imatrix_chunks(const tc_imatrix *im);
TC_API int tc_imatrix_is_legacy(const tc_imatrix *im);

/* ===== Quantizing as llama-quantize does (formats/quantize.c) ===== */

/*
 * One llama-quantize run, in two steps: plan (every tensor's type, from the preset's rules and
 * the model's hyper-parameters, in llama.cpp's tensor order), then apply the plan to the graph
 * it was made for (metadata keys as llama-quantize writes them, tensors reordered and turned
 * into lazy conversions). Write the graph with tc_write() as "gguf" and the file is byte-identical
 * in every tensor to llama_model_quantize() on the same input, without a temporary file.
 */
typedef struct tc_quant_opts {
    const char *preset;             /* preset name or ftype number ("Q4_K_M", "15", "COPY") */
    const tc_imatrix *imatrix;      /* NULL or importance data (must outlive the plan) */
    const char *imatrix_file;       /* recorded as quantize.imatrix.file (NULL: not recorded) */
    tc_dtype output_tensor_type;    /* --output-tensor-type, or TC_DTYPE_NONE */
    tc_dtype token_embedding_type;  /* --token-embedding-type, or TC_DTYPE_NONE */
    size_t n_overrides;             /* --tensor-type REGEX=TYPE, first match wins: */
    const char *const *override_re; /*   POSIX extended regexes, matched lower-cased */
    const int *override_type;       /*   their tc_dtypes (int: callers fill plain arrays) */
    int pure;                       /* --pure: no per-tensor bumps (fallbacks still apply) */
    int leave_output;               /* --leave-output-tensor */
    int allow_requantize;           /* --allow-requantize */
    int keep_split;                 /* --keep-split: order and parts as the input's GGUF split */
    int dry_run;                    /* plan only: types that cannot be produced are not errors */
} tc_quant_opts;

/* Defaults: everything off, both tensor types TC_DTYPE_NONE. */
TC_API void tc_quant_opts_init(tc_quant_opts *o);

/* One tensor of the plan (in output order). */
typedef struct tc_quant_step {
    const tc_tensor *in; /* the tensor as planned (before tc_quant_apply) */
    const char *name;    /* its name */
    tc_dtype from, to;   /* before and after */
    int fallback;        /* the preset's type did not fit the row: a fallback type */
    int imatrix;         /* quantized with importance data */
    uint64_t in_bytes, out_bytes;
    uint32_t part; /* --keep-split: output part (from 0), else 0 */
} tc_quant_step;

typedef struct tc_quant_plan tc_quant_plan;

/*
 * Plan `g` (not modified) for `o`. Errors, each with a message naming the tensor or file:
 * TC_E_USAGE for an unknown preset, a bad --tensor-type regex, a preset that needs an importance
 * matrix when none is given; TC_E_UNSUPPORTED when the graph has no general.architecture (its
 * tensors lack llama.cpp's names, so the preset's rules cannot apply; --pure and the float
 * presets are allowed), a type tensorcast cannot produce yet, requantizing without
 * allow_requantize, an importance matrix of the wrong size or missing a tensor that needs it.
 */
TC_API tc_status tc_quant_plan_new(const tc_graph *g, const tc_quant_opts *o,
                                   tc_quant_plan **out /* OUT */, tc_err *e);
TC_API void tc_quant_plan_free(tc_quant_plan *p); /* NULL is a no-op */
TC_API size_t tc_quant_plan_len(const tc_quant_plan *p);
TC_API const tc_quant_step *tc_quant_plan_step(const tc_quant_plan *p, size_t i);
/* The preset planned for. */
TC_API const tc_preset *tc_quant_plan_preset(const tc_quant_plan *p);
/* --keep-split: the output part of each tensor in output order (for tc_write_opts.part_of),
 * else NULL. */
TC_API const uint32_t *tc_quant_plan_parts(const tc_quant_plan *p);
/* Totals: fallbacks; quantized tensors and how many of them had importance data; the first
 * tensor that needs importance data (NULL if none) and the type it needs it for. */
typedef struct tc_quant_totals {
    size_t n_fallback, n_quantized, n_imatrix;
    const char *needs_imatrix;
    tc_dtype needs_imatrix_type;
    uint64_t in_bytes, out_bytes, n_elements;
} tc_quant_totals;
TC_API const tc_quant_totals *tc_quant_plan_totals(const tc_quant_plan *p);

/* Rewrite `g` (the graph the plan was made for) as planned. On error `g` may be half done:
 * free it. */
TC_API tc_status tc_quant_apply(const tc_quant_plan *p, tc_graph *g, tc_err *e);

#ifdef __cplusplus
}
#endif
#endif /* TENSORCAST_H */
