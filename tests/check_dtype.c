/* check_dtype.c - the dtype table and plain casts. */
#include "fp16.h"
#include "quant.h"
#include "quant_types.h"
#include "tc_test.h"

#include <math.h>
#include <string.h>

/* Every block type tensorcast quantizes or dequantizes is in exactly one quantizer suite's list
 * (quant_types.h), so a type added to the table cannot be left untested. */
START_TEST(every_block_type_has_a_suite)
{
    int covered = 0;
    for (int t = 0; t < TC_DTYPE_COUNT; t++) {
        const tc_dtype_info *d = tc_dtype_get(t);
        int in = 0;
        for (int k = 0; k < TC_N_LEGACY_TYPES; k++)
            in += tc_legacy_types[k] == t;
        for (int k = 0; k < TC_N_K_TYPES; k++)
            in += tc_k_types[k] == t;
        for (int k = 0; k < TC_N_IQ_TYPES; k++)
            in += tc_iq_types[k] == t;
        if (d == NULL || !d->is_quant) {
            ck_assert_msg(in == 0, "type %d is listed but is not a block type", t);
            continue;
        }
        if (!tc_can_quantize(t) && !tc_can_dequantize(t))
            continue; /* known to the table only (Q8_1): nothing of ours to test */
        ck_assert_msg(in == 1, "%s is in %d quantizer suites' lists (quant_types.h), not 1",
                      d->name, in);
        covered++;
    }
    ck_assert_int_eq(covered, TC_N_LEGACY_TYPES + TC_N_K_TYPES + TC_N_IQ_TYPES);
}
END_TEST

START_TEST(row_size_rules)
{
    ck_assert_uint_eq(tc_row_size(TC_DTYPE_F32, 10), 40);
    ck_assert_uint_eq(tc_row_size(TC_DTYPE_Q4_0, 64), 36);
    ck_assert_uint_eq(tc_row_size(TC_DTYPE_Q4_0, 33), 0); /* not a multiple of the block */
    ck_assert_uint_eq(tc_row_size(TC_DTYPE_Q4_K, 512), 288);
    ck_assert_uint_eq(tc_row_size(4, 32), 0);                   /* retired ggml id */
    ck_assert_uint_eq(tc_row_size(TC_DTYPE_F64, INT64_MAX), 0); /* overflow */
    ck_assert_ptr_null(tc_dtype_get(31));
    ck_assert_int_eq(tc_dtype_from_name("Q4_K"), TC_DTYPE_Q4_K);
    ck_assert_int_eq(tc_dtype_from_name("BF16"), TC_DTYPE_BF16);
    ck_assert_int_eq(tc_dtype_from_name("nope"), -1);
}
END_TEST

/* f16 rounding: compare against a double-precision reference of round-to-nearest-even. */
static uint16_t f16_reference(float f)
{
    if (isnan(f))
        return (signbit(f) ? 0x8000 : 0) | 0x7e00;
    double a = fabs((double)f);
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    uint16_t best = 0;
    double bestd = INFINITY;
    /* search the two neighbours among finite halves, by brute force over the exponent */
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double v = (double)tc_f16_to_f32((uint16_t)h);
        double d = fabs(v - a);
        if (d < bestd || (d == bestd && (h & 1) == 0)) {
            bestd = d;
            best = (uint16_t)h;
        }
        if (v > a)
            break;
    }
    if (a >= 65520.0)
        return sign | 0x7c00;
    return sign | best;
}

START_TEST(f16_round_to_nearest_even)
{
    uint64_t s = 42;
    for (int i = 0; i < 4000; i++) {
        float f;
        uint32_t u = (uint32_t)tc_rng_next(&s);
        /* bias toward the half range so the search stays short and meaningful */
        u = (u & 0x807fffffu) | ((uint32_t)(100 + (u >> 23) % 45) << 23);
        memcpy(&f, &u, 4);
        ck_assert_uint_eq(tc_f32_to_f16(f), f16_reference(f));
    }
    ck_assert_uint_eq(tc_f32_to_f16(INFINITY), 0x7c00);
    ck_assert_uint_eq(tc_f32_to_f16(-INFINITY), 0xfc00);
    ck_assert_uint_eq(tc_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(tc_f32_to_f16(1.0f), 0x3c00);
    ck_assert(isnan(tc_f16_to_f32(tc_f32_to_f16(NAN))));
}
END_TEST

START_TEST(bf16_and_f8)
{
    ck_assert_uint_eq(tc_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(tc_f32_to_bf16(tc_bits_f32(0x3f808000u)), 0x3f80); /* tie to even */
    ck_assert_uint_eq(tc_f32_to_bf16(tc_bits_f32(0x3f818000u)), 0x3f82);
    ck_assert(isnan(tc_bf16_to_f32(tc_f32_to_bf16(NAN))));
    ck_assert(isinf(tc_bf16_to_f32(tc_f32_to_bf16(INFINITY))));
    uint8_t e4[4] = {0x38, 0x7e, 0x7f, 0x01}; /* 1.0, 448, NaN, 2^-9 */
    float out[4];
    ck_assert_int_eq(tc_cast_to_f32(TC_DTYPE_F8_E4M3, e4, out, 4), 0);
    ck_assert(out[0] == 1.0f && out[1] == 448.0f && isnan(out[2]) && out[3] == 0x1p-9f);
    uint8_t e5[2] = {0x3c, 0x7c}; /* 1.0, inf */
    ck_assert_int_eq(tc_cast_to_f32(TC_DTYPE_F8_E5M2, e5, out, 2), 0);
    ck_assert(out[0] == 1.0f && isinf(out[1]));
}
END_TEST

Suite *dtype_suite(void)
{
    Suite *s = suite_create("dtype");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, every_block_type_has_a_suite);
    tcase_add_test(tc, row_size_rules);
    tcase_add_test(tc, f16_round_to_nearest_even);
    tcase_add_test(tc, bf16_and_f8);
    suite_add_tcase(s, tc);
    return s;
}
