/*
 * tc_dtype.h - the one table of element types tensorcast knows.
 *
 * The values below TC_DTYPE_GGML_COUNT are ggml's own type ids, exactly as a GGUF tensor info
 * stores them (ggml include/ggml.h). Ids ggml has retired (4, 5, 31-33, 36-38) have no row in
 * the table: tc_dtype_get() returns NULL for them, so nobody divides by a zero block size.
 * Types that only safetensors/PyTorch/NumPy have (unsigned integers, bool, fp8) follow from 64.
 *
 * This header is part of the installed public API and depends on nothing else.
 */
#ifndef TC_DTYPE_H
#define TC_DTYPE_H

#include <stddef.h>
#include <stdint.h>

/* Marks the public functions of the installed headers: the only symbols libtensorcast exports
 * (it is built with -fvisibility=hidden). */
#ifndef TC_API
#if defined(__GNUC__)
#define TC_API __attribute__((visibility("default")))
#else
#define TC_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tc_dtype {
    TC_DTYPE_NONE = -1, /* no type: "unknown name", "cannot hold" (keeps the enum signed) */
    TC_DTYPE_F32 = 0,
    TC_DTYPE_F16 = 1,
    TC_DTYPE_Q4_0 = 2,
    TC_DTYPE_Q4_1 = 3,
    TC_DTYPE_Q5_0 = 6,
    TC_DTYPE_Q5_1 = 7,
    TC_DTYPE_Q8_0 = 8,
    TC_DTYPE_Q8_1 = 9,
    TC_DTYPE_Q2_K = 10,
    TC_DTYPE_Q3_K = 11,
    TC_DTYPE_Q4_K = 12,
    TC_DTYPE_Q5_K = 13,
    TC_DTYPE_Q6_K = 14,
    TC_DTYPE_Q8_K = 15,
    TC_DTYPE_IQ2_XXS = 16,
    TC_DTYPE_IQ2_XS = 17,
    TC_DTYPE_IQ3_XXS = 18,
    TC_DTYPE_IQ1_S = 19,
    TC_DTYPE_IQ4_NL = 20,
    TC_DTYPE_IQ3_S = 21,
    TC_DTYPE_IQ2_S = 22,
    TC_DTYPE_IQ4_XS = 23,
    TC_DTYPE_I8 = 24,
    TC_DTYPE_I16 = 25,
    TC_DTYPE_I32 = 26,
    TC_DTYPE_I64 = 27,
    TC_DTYPE_F64 = 28,
    TC_DTYPE_IQ1_M = 29,
    TC_DTYPE_BF16 = 30,
    TC_DTYPE_TQ1_0 = 34,
    TC_DTYPE_TQ2_0 = 35,
    TC_DTYPE_MXFP4 = 39,
    TC_DTYPE_NVFP4 = 40,
    TC_DTYPE_Q1_0 = 41,
    TC_DTYPE_Q2_0 = 42,
    TC_DTYPE_GGML_COUNT = 43, /* ids below this are ggml's; GGUF can store them */

    /* Not ggml types: safetensors / PyTorch / NumPy only. */
    TC_DTYPE_U8 = 64,
    TC_DTYPE_U16 = 65,
    TC_DTYPE_U32 = 66,
    TC_DTYPE_U64 = 67,
    TC_DTYPE_BOOL = 68,
    TC_DTYPE_F8_E4M3 = 69,
    TC_DTYPE_F8_E5M2 = 70,
    TC_DTYPE_COUNT = 71
} tc_dtype;

/* Static facts about one dtype. */
typedef struct tc_dtype_info {
    const char *name;    /* lower case, as ggml names it ("q4_K", "f16") */
    const char *st_name; /* safetensors spelling ("F16", "BF16", "F8_E4M3"), NULL if none */
    uint32_t blck;       /* elements per block (1 for plain types) */
    uint32_t size;       /* bytes per block */
    uint8_t is_quant;    /* a ggml block-quantized type */
    uint8_t is_float;    /* a plain floating-point type (F64/F32/F16/BF16/F8) */
    uint8_t is_int;      /* a plain integer or bool type */
} tc_dtype_info;

/* Facts about `t`, or NULL when `t` is not a type tensorcast knows (retired ggml ids included). */
TC_API const tc_dtype_info *tc_dtype_get(tc_dtype t);

/* Look a type up by its ggml name ("q4_K", case-insensitive) or safetensors name ("BF16").
 * @return the type, or TC_DTYPE_NONE (-1) when no type has that name. */
TC_API tc_dtype tc_dtype_from_name(const char *name);

/* Bytes needed for `n` elements of type `t`; 0 when `t` is unknown, `n` < 0, `n` is not a
 * multiple of the block size, or the size would overflow. */
TC_API uint64_t tc_row_size(tc_dtype t, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* TC_DTYPE_H */
