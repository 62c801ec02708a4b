/*
 * quant.h - the quantizer's face: row conversion between f32 and every dtype, and the
 * run-time choice of kernels. quant/ is a leaf: nothing here knows about graphs or files.
 * Kernels never allocate; the caller sizes `dst` with tc_row_size().
 */
#ifndef TC_QUANT_H
#define TC_QUANT_H

#include "tc_dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tc_isa {
    TC_ISA_SCALAR = 0,
    TC_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
    TC_ISA_AVX512 = 2, /* AVX-512 F + BW + DQ + VL (and AVX2 + FMA + F16C) */
    TC_ISA_NEON = 3,
    TC_ISA_COUNT = 4
} tc_isa;

/* Name of an ISA ("scalar", "avx2", "avx512", "neon"). */
TC_API const char *tc_isa_name(tc_isa isa);

/* 1 when this CPU (and OS) can run kernels built for `isa`, and they are compiled in. */
TC_API int tc_isa_supported(tc_isa isa);

/* The ISA used by tc_quantize_rows()/tc_to_f32(): the best supported one, or the one named by
 * the environment variable TC_ISA (scalar|avx2|avx512|neon) when set and supported. */
TC_API tc_isa tc_isa_active(void);
/* 0 when TC_ISA is unset or names a kernel set this CPU runs; else -1 and a message. */
TC_API int tc_isa_env_check(char *msg, size_t cap);

/* 1 when rows of f32 can be converted to `t` (plain float types and the quantized types that
 * have a quantizer), 0 otherwise. */
TC_API int tc_can_quantize(tc_dtype t);

/* 1 when `t` can be converted to f32 (every known type but U64/I64 beyond 2^24 loses bits). */
TC_API int tc_can_dequantize(tc_dtype t);

/* 1 when quantizing to `t` needs an importance matrix (ggml_quantize_requires_imatrix). */
TC_API int tc_requires_imatrix(tc_dtype t);

/*
 * Convert `n_rows` rows of `n_per_row` floats at `src` to type `t` at `dst`, exactly as ggml's
 * ggml_quantize_chunk() does for the same arguments. `imatrix` is NULL or `n_per_row` weights.
 * @return bytes written (n_rows * tc_row_size(t, n_per_row)), or 0 when `t` cannot be
 *         quantized to, `n_per_row` is not a multiple of the block size, or `t` needs an
 *         importance matrix (tc_requires_imatrix) and `imatrix` is NULL.
 */
TC_API size_t tc_quantize_rows(tc_dtype t, const float *src, void *dst, int64_t n_rows,
                               int64_t n_per_row, const float *imatrix);

/* Same with a given ISA's kernels (tests and benchmarks). Unsupported ISA: returns 0. */
TC_API size_t tc_quantize_rows_isa(tc_isa isa, tc_dtype t, const float *src, void *dst,
                                   int64_t n_rows, int64_t n_per_row, const float *imatrix);

/*
 * Convert `n` elements of type `t` at `src` to f32 at `dst` (dequantize for block types;
 * `n` must then be a multiple of the block size). @return 0, or -1 when unsupported.
 */
TC_API int tc_to_f32(tc_dtype t, const void *src, float *dst, int64_t n);
TC_API int tc_to_f32_isa(tc_isa isa, tc_dtype t, const void *src, float *dst, int64_t n);

/* Plain-type conversions (no block types): used by the dispatchers above. */
TC_API int tc_cast_to_f32(tc_dtype t, const void *src, float *dst, int64_t n);
TC_API int tc_cast_from_f32(tc_dtype t, const float *src, void *dst, int64_t n);
/* The same with the kernels of `isa` (f32 -> f16 uses F16C from AVX2 up; bit-identical to the
 * scalar routine, which TC_ISA_SCALAR selects). */
TC_API int tc_cast_from_f32_isa(tc_isa isa, tc_dtype t, const float *src, void *dst, int64_t n);
/* f16 -> f32 uses F16C from AVX2 up (bit-identical to the scalar routine). */
TC_API int tc_cast_to_f32_isa(tc_isa isa, tc_dtype t, const void *src, float *dst, int64_t n);

/* ===== llama-quantize presets (quant/mix.c) ===== */

/* llama.cpp's llama_ftype numbering (include/llama.h): general.file_type of a GGUF. */
typedef enum tc_ftype {
    TC_FTYPE_ALL_F32 = 0,
    TC_FTYPE_F16 = 1,
    TC_FTYPE_Q4_0 = 2,
    TC_FTYPE_Q4_1 = 3,
    TC_FTYPE_Q8_0 = 7,
    TC_FTYPE_Q5_0 = 8,
    TC_FTYPE_Q5_1 = 9,
    TC_FTYPE_Q2_K = 10,
    TC_FTYPE_Q3_K_S = 11,
    TC_FTYPE_Q3_K_M = 12,
    TC_FTYPE_Q3_K_L = 13,
    TC_FTYPE_Q4_K_S = 14,
    TC_FTYPE_Q4_K_M = 15,
    TC_FTYPE_Q5_K_S = 16,
    TC_FTYPE_Q5_K_M = 17,
    TC_FTYPE_Q6_K = 18,
    TC_FTYPE_IQ2_XXS = 19,
    TC_FTYPE_IQ2_XS = 20,
    TC_FTYPE_Q2_K_S = 21,
    TC_FTYPE_IQ3_XS = 22,
    TC_FTYPE_IQ3_XXS = 23,
    TC_FTYPE_IQ1_S = 24,
    TC_FTYPE_IQ4_NL = 25,
    TC_FTYPE_IQ3_S = 26,
    TC_FTYPE_IQ3_M = 27,
    TC_FTYPE_IQ2_S = 28,
    TC_FTYPE_IQ2_M = 29,
    TC_FTYPE_IQ4_XS = 30,
    TC_FTYPE_IQ1_M = 31,
    TC_FTYPE_BF16 = 32,
    TC_FTYPE_TQ1_0 = 36,
    TC_FTYPE_TQ2_0 = 37,
    TC_FTYPE_MXFP4_MOE = 38,
    TC_FTYPE_COPY = 1000 /* not a llama ftype: --only-copy, every tensor keeps its type */
} tc_ftype;

/* One preset as llama-quantize names it. */
typedef struct tc_preset {
    const char *name;      /* "Q4_K_M" */
    int ftype;             /* tc_ftype */
    tc_dtype default_type; /* every quantizable tensor starts from it */
    const char *about;     /* one line for --help */
    const char *alias_of; /* the canonical name this one stands for ("Q4_K" -> "Q4_K_M"), or NULL */
} tc_preset;

/* The presets, in llama-quantize's list order; NULL past the end. */
TC_API const tc_preset *tc_preset_at(size_t i);
/* Look a preset up by name (case-insensitive) or by its ftype number ("15"); NULL if unknown. */
TC_API const tc_preset *tc_preset_find(const char *name);
/* The preset of an ftype number, NULL if unknown. */
TC_API const tc_preset *tc_preset_by_ftype(int ftype);

#ifdef __cplusplus
}
#endif
#endif /* TC_QUANT_H */
