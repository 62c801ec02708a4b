/*
 * types.c - the one dtype table (ggml's type_traits, plus the non-ggml element types).
 * Block sizes and byte sizes follow ggml's ggml-common.h block structs.
 */
#include "tc_dtype.h"

#include <ctype.h>
#include <string.h>

#define Q(id, nm, b, sz) [TC_DTYPE_##id] = {.name = nm, .blck = b, .size = sz, .is_quant = 1}
#define F(id, nm, st, sz)                                                                          \
    [TC_DTYPE_##id] = {.name = nm, .st_name = st, .blck = 1, .size = sz, .is_float = 1}
#define I(id, nm, st, sz)                                                                          \
    [TC_DTYPE_##id] = {.name = nm, .st_name = st, .blck = 1, .size = sz, .is_int = 1}

static const tc_dtype_info dtypes[TC_DTYPE_COUNT] = {
    F(F32, "f32", "F32", 4),
    F(F16, "f16", "F16", 2),
    Q(Q4_0, "q4_0", 32, 18),
    Q(Q4_1, "q4_1", 32, 20),
    Q(Q5_0, "q5_0", 32, 22),
    Q(Q5_1, "q5_1", 32, 24),
    Q(Q8_0, "q8_0", 32, 34),
    Q(Q8_1, "q8_1", 32, 36),
    Q(Q2_K, "q2_K", 256, 84),
    Q(Q3_K, "q3_K", 256, 110),
    Q(Q4_K, "q4_K", 256, 144),
    Q(Q5_K, "q5_K", 256, 176),
    Q(Q6_K, "q6_K", 256, 210),
    Q(Q8_K, "q8_K", 256, 292),
    Q(IQ2_XXS, "iq2_xxs", 256, 66),
    Q(IQ2_XS, "iq2_xs", 256, 74),
    Q(IQ3_XXS, "iq3_xxs", 256, 98),
    Q(IQ1_S, "iq1_s", 256, 50),
    Q(IQ4_NL, "iq4_nl", 32, 18),
    Q(IQ3_S, "iq3_s", 256, 110),
    Q(IQ2_S, "iq2_s", 256, 82),
    Q(IQ4_XS, "iq4_xs", 256, 136),
    I(I8, "i8", "I8", 1),
    I(I16, "i16", "I16", 2),
    I(I32, "i32", "I32", 4),
    I(I64, "i64", "I64", 8),
    F(F64, "f64", "F64", 8),
    Q(IQ1_M, "iq1_m", 256, 56),
    F(BF16, "bf16", "BF16", 2),
    Q(TQ1_0, "tq1_0", 256, 54),
    Q(TQ2_0, "tq2_0", 256, 66),
    Q(MXFP4, "mxfp4", 32, 17),
    Q(NVFP4, "nvfp4", 64, 36),
    Q(Q1_0, "q1_0", 128, 18),
    Q(Q2_0, "q2_0", 64, 18),
    I(U8, "u8", "U8", 1),
    I(U16, "u16", "U16", 2),
    I(U32, "u32", "U32", 4),
    I(U64, "u64", "U64", 8),
    I(BOOL, "bool", "BOOL", 1),
    F(F8_E4M3, "f8_e4m3", "F8_E4M3", 1),
    F(F8_E5M2, "f8_e5m2", "F8_E5M2", 1),
};

const tc_dtype_info *tc_dtype_get(tc_dtype t)
{
    if (t < 0 || t >= TC_DTYPE_COUNT || dtypes[t].name == NULL)
        return NULL;
    return &dtypes[t];
}

static int name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

tc_dtype tc_dtype_from_name(const char *name)
{
    if (name == NULL)
        return TC_DTYPE_NONE;
    for (int t = 0; t < TC_DTYPE_COUNT; t++) {
        if (dtypes[t].name == NULL)
            continue;
        if (name_eq(name, dtypes[t].name) ||
            (dtypes[t].st_name && strcmp(name, dtypes[t].st_name) == 0))
            return t;
    }
    return TC_DTYPE_NONE;
}

uint64_t tc_row_size(tc_dtype t, int64_t n)
{
    const tc_dtype_info *d = tc_dtype_get(t);
    uint64_t r;
    if (d == NULL || n < 0 || (uint64_t)n % d->blck != 0)
        return 0;
    if (__builtin_mul_overflow((uint64_t)n / d->blck, (uint64_t)d->size, &r))
        return 0;
    return r;
}
