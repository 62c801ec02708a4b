/*
 * iq3q.h - private to quant/: what the IQ3_XXS / IQ3_S quantizers share: the scalar reference's
 * whole-block quantizers (ref_iq3_quant.c), which the SIMD kernels (avx2_iq3q.c, avx512_iq3q.c)
 * hand the blocks they do not take themselves, and the neighbour lists laid out for searching
 * many candidates at once.
 */
#ifndef TC_IQ3Q_H
#define TC_IQ3Q_H

#include "blocks.h"
#include "iq_grid.h"
#include "kernels.h"

#include <stdint.h>
#include <string.h>

enum { IQ3XXS_BYTES = 98, IQ3S_BYTES = 110 };

/* 4-bit sub-block scale l of a block of scale d = max_scale / 31 (1/d = id), as ggml. */
static inline int tc_iq3_scale4(float id, float scale)
{
    const int l = tc_nearest_int(0.5f * (id * scale - 1));
    return l < 0 ? 0 : l > 15 ? 15 : l;
}

/* The end of an IQ3_XXS block: q3 holds qs[64] then the 8 sign words (scale bits clear); d and
 * the 8 scales (0 for a skipped sub-block) go in, the whole block zero when all are. */
static inline void tc_iq3_xxs_finish(const float *scales, float max_scale, uint8_t *q3, uint8_t *y)
{
    if (!max_scale) {
        memset(y, 0, IQ3XXS_BYTES);
        return;
    }
    const float d = max_scale / 31;
    tc_put_f16(y, d * 1.0125f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ib++)
        q3[64 + 4 * ib + 3] |= (uint8_t)(tc_iq3_scale4(id, scales[ib]) << 4); /* bits 28..31 */
    memcpy(y + 2, q3, 96);
}

/* The end of an IQ3_S block (y zeroed beforehand, qs, qh and signs in place): d and the
 * scales; nothing when all scales are 0. */
static inline void tc_iq3_s_finish(const float *scales, float max_scale, uint8_t *y)
{
    if (!max_scale)
        return;
    const float d = max_scale / 31;
    tc_put_f16(y, d * 1.033f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ib += 2)
        y[106 + ib / 2] =
            (uint8_t)(tc_iq3_scale4(id, scales[ib]) | tc_iq3_scale4(id, scales[ib + 1]) << 4);
}

/* One whole block (256 values, importance weights qw or NULL) by the reference. */
void tc_ref_iq3_xxs_block(const tc_iq3_search *g, const float *x, const float *qw, uint8_t *y);
void tc_ref_iq3_s_block(const tc_iq3_search *g, const float *x, const float *qw, uint8_t *y);

/*
 * The neighbour lists of a 3-bit grid (iq_grid.h) as level codes, for searching up to
 * TC_IQ3_LANES candidates at a time. Two packings of the 4 levels of a group: code3 = l0 |
 * l1 << 3 | l2 << 6 | l3 << 9 (iq_grid.h's map index) and code4 = l0 | l1 << 4 | l2 << 8 |
 * l3 << 12 (one nibble per level: a permute reading 4 index bits sees bit 3 clear).
 * map[code3] is the grid index when the point is on the grid, else ~(o << 3 | s << 2 | c)
 * (negative): list[o] is the count n, list[o + 1 ...] the code4 of the n listed points in the
 * reference's order, then copies of the last one up to a multiple of TC_IQ3_LANES (a copy ties
 * with the original and comes later: it never wins); c = 0, 1, 2, 3 for n <= 8, <= 16, <= 32,
 * more; s = 1 for n <= 4 (then c = 0).
 */
#define TC_IQ3_LANES 16

typedef struct tc_iq3_lists {
    const int32_t *map; /* 4096 entries */
    const uint16_t *list;
    int code0; /* the code4 of grid point 0, what the reference takes when no distance is finite */
} tc_iq3_lists;

/* `grid_size` 256 (IQ3_XXS) or 512 (IQ3_S). Built once, thread-safely; never freed; NULL
 * when out of memory. */
const tc_iq3_lists *tc_iq3_lists_get(int grid_size);

static inline int tc_iq3_code3(int code4)
{
    return (code4 & 7) | (code4 >> 1 & 0x38) | (code4 >> 2 & 0x1c0) | (code4 >> 3 & 0xe00);
}

/* The SIMD kernels (no-ops on other architectures). */
void tc_avx2_register_iq3q(tc_kernel_table *k);
void tc_avx512_register_iq3q(tc_kernel_table *k);
void tc_neon_register_iq3q(tc_kernel_table *k);

#endif /* TC_IQ3Q_H */
