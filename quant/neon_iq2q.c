/*
 * neon_iq2q.c - AArch64 NEON quantizers for IQ2_XXS and IQ2_XS, bit-identical to
 * ref_iq2_quant.c (and so to ggml's quantize_iq2_xxs / quantize_iq2_xs): iq2q_lanes.h with 4
 * lanes (grid_ops_neon.h), which explains why every float is the reference's. The template's
 * AVX2-only parts (the 8-sub-block make_qp_quants, the 8-element preparation, two trials' searches
 * in 128-bit halves) have generic W-lane forms there, which this file gets. No FMA (the build has
 * -ffp-contract=off), every rounding by nearest_int's bit trick (no float->int conversion, whose
 * out-of-range result differs from x86's). Compiled on every architecture, empty but for a no-op
 * register function off AArch64. Checked against the reference by scripts/ci/check_neon.sh.
 */
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 keeps the template's small fixed loops rolled, their vectors stored and reloaded;
 * unrolled, as neon_iq1q.c (neon_icount.sh measures the difference). Before any include, so
 * that every function here, the intrinsics included, has the same options. */
#pragma GCC optimize("unroll-loops")
#endif

#include "kernels.h"

#if defined(__aarch64__)

#include "grid_ops_neon.h"

#include "iq2q_lanes.h"

void tc_neon_register_iq2q(tc_kernel_table *k)
{
    k->quantize[TC_DTYPE_IQ2_XXS] = iq2_xxs_rows;
    k->quantize[TC_DTYPE_IQ2_XS] = iq2_xs_rows;
}

#else

void tc_neon_register_iq2q(tc_kernel_table *k)
{
    (void)k;
}

#endif
