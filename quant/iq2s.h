/*
 * iq2s.h - private to quant/: what the IQ2_S quantizers share: the scalar reference's whole-block
 * quantizer and block finish (ref_iq3_quant.c), which the SIMD kernels (avx2_iq2s.c,
 * avx512_iq2s.c) use for the blocks they hand over and for the block scales, and the search
 * tables laid out for the SIMD kernels (iq2s_lists.c).
 */
#ifndef TC_IQ2S_H
#define TC_IQ2S_H

#include "iq_grid.h"
#include "kernels.h"

#include <stdint.h>

/* IQ2_S: 82 bytes = d, qs[32] (low 8 index bits), signs[32], qh[8] (2 high bits per group),
 * scales[8] (two 4-bit scales) */
enum { IQ2S_SIZE = 82, IQ2S_QS = 2, IQ2S_SIGNS = 34, IQ2S_QH = 66, IQ2S_SCALES = 74 };

/* One whole block (256 values, importance weights qw or NULL) by the reference. */
void tc_ref_iq2_s_block(const tc_iq2_search *g, const float *x, const float *qw, uint8_t *y);

/*
 * The end of a block: y already holds qs, signs and qh, its d and scales are zero; max_scale is
 * the reference's running maximum over the sub-blocks that were not skipped (ggml's MAX, in
 * sub-block order), scales[16] the sub-blocks' scales (0 for the skipped ones). Writes d and the
 * 4-bit scales, or leaves them zero when max_scale is 0.
 */
void tc_iq2_s_finish(float max_scale, const float *scales, uint8_t *y);

/*
 * The IQ2_S search tables for the SIMD kernels. A group of 8 levels 0..2 has two codes: code2
 * (2 bits per element, iq_grid.h's map index) and code3 (sum of level j * 3^j, < 6561, a map
 * small enough for the first-level cache). Both maps hold one entry per group:
 * - on the grid: grid index << 16 | code2 (>= 0);
 * - off the grid: INT32_MIN | class << 29 | list number << 16 | code2 (< 0), class 0, 1, 2, 3
 *   for lists of at most 8, 16, 32 or more points. list[list number] is the offset o of its list
 *   in lst[]: lst[o] is the count n, lst[o + 1 ...] the n listed points in the reference's order
 *   as term indices (nibble j = 4 * (j mod 4) + level j: the lane of a table holding 4 elements'
 *   terms at 4 levels each), then their n grid indices as uint16. No padding: the searches mask
 *   the lanes past n.
 * entry[g] is grid point g's entry. Codes with a level 3 never occur; map2 gives them grid point
 * 0's entry.
 */
typedef struct tc_iq2s_lists {
    const int32_t *map3;  /* 6561 entries */
    const int32_t *map2;  /* 43692 entries */
    const int32_t *entry; /* 1024 entries */
    const uint32_t *list;
    const uint32_t *lst;
    int32_t init; /* the levels the reference starts from (all 0): code 0's entry, or grid point
                     0 at code 0 if that is off the grid (its stand-in for an index it lacks) */
} tc_iq2s_lists;

/* Built once, thread-safely; never freed; NULL when out of memory. */
const tc_iq2s_lists *tc_iq2s_lists_get(void);

/* The SIMD kernels (no-ops on other architectures). */
void tc_avx2_register_iq2s(tc_kernel_table *k);
void tc_avx512_register_iq2s(tc_kernel_table *k);
void tc_neon_register_iq2s(tc_kernel_table *k);

#endif /* TC_IQ2S_H */
