/*
 * iq2s.h - private to quant/: what the IQ2_S quantizers share: the scalar reference's whole-block
 * quantizer and block finish (ref_iq3_quant.c), which the SIMD kernels (avx2_iq2s.c,
 * avx512_iq2s.c) use for the blocks they hand over and for the block scales, and the neighbour
 * lists laid out for searching many candidates at once (iq2s_lists.c).
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
 * The IQ2_S neighbour lists for searching many candidates at once. map[code] (code: 2 bits per
 * element, as iq_grid.h's, levels 0..2) is the grid index when the point is on the grid, else
 * ~(o << 2 | c) (negative), c = 0, 1, 2, 3 for lists of at most 8, 16, 32 or more points.
 * code[o] and word[o] are the count n, then code[o + 1 ...] the codes of the n listed points in
 * the reference's order and word[o + 1 ...] the same points as term indices: nibble j is
 * 4 * (j mod 4) + level j (the lane of a table holding 4 elements' terms at 4 levels each), both
 * padded with copies of the last point to a multiple of TC_IQ2S_LANES (a copy ties with the
 * original and comes later: it never wins).
 */
#define TC_IQ2S_LANES 16

typedef struct tc_iq2s_lists {
    const int32_t *map; /* 43692 entries */
    const uint16_t *code;
    const uint32_t *word;
    int code0; /* the code of grid point 0, what the reference takes when no distance is finite */
} tc_iq2s_lists;

/* Built once, thread-safely; never freed; NULL when out of memory. */
const tc_iq2s_lists *tc_iq2s_lists_get(void);

/* The SIMD kernels (no-ops on other architectures). */
void tc_avx2_register_iq2s(tc_kernel_table *k);
void tc_avx512_register_iq2s(tc_kernel_table *k);

#endif /* TC_IQ2S_H */
