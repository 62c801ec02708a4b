/*
 * iq2q.h - private to quant/: what the IQ2_XXS / IQ2_XS quantizers share: the pieces of the
 * scalar reference (ref_iq2_quant.c) that the SIMD kernels (avx2_iq2q.c, avx512_iq2q.c) run
 * unchanged, and the neighbour lists laid out for searching many candidates at once.
 */
#ifndef TC_IQ2Q_H
#define TC_IQ2Q_H

#include "blocks.h"
#include "iq_grid.h"

#include <stddef.h>
#include <stdint.h>

#define IQ2_KMAXQ 3 /* levels 0..2: odd values 1, 3, 5 */

enum { IQ2XXS_SIZE = 66, IQ2XS_SIZE = 74 };

static inline int iclamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* acc + x[0]^2 + ... + x[n-1]^2, added one by one in order: from acc = 0 over a block, the
 * reference's sum of squares; in pieces, the same additions (the kernels sum the next block's
 * while they work on this one, so its serial additions overlap other work). */
static inline float tc_iq2_sum_squares(float acc, const float *x, int n)
{
    for (int i = 0; i < n; ++i)
        acc += x[i] * x[i];
    return acc;
}

/* Step 1 of the reference: the mean square of the block's 256 values, summed in order. */
static inline float tc_iq2_sigma2(const float *x)
{
    return tc_iq2_sum_squares(0, x, QK_K) / QK_K;
}

/* One whole block (QK_K values, importance weights qw) by the reference. */
void tc_ref_iq2_xxs_block(const tc_iq2_search *S, const float *x, const float *qw, uint8_t *y);
void tc_ref_iq2_xs_block(const tc_iq2_search *S, const float *x, const float *qw, uint8_t *y);

/* The end of a block (step 5): from the sub-blocks' scales (>= 0) and their words (sign bits
 * and grid indices; IQ2_XXS's scale nibbles are added to q2) to the block's bytes at y. */
void tc_iq2_xxs_finish(const float *scales, uint32_t *q2, uint8_t *y);
void tc_iq2_xs_finish(const float *scales, const uint16_t *q2, uint8_t *y);

/*
 * The neighbour lists of a grid (iq_grid.h) as level codes, for searching TC_IQ2_LANES
 * candidates at a time. map[code] (code: 2 bits per element, as iq_grid.h's) is the grid index
 * when the point is on the grid, else -(o + 1): list[o] is the count n, list[o + 1 ...] the
 * codes of the n listed points in the reference's order, padded with 0xffff (every element at
 * the impossible level 3) to a multiple of TC_IQ2_LANES. NULL when out of memory.
 */
#define TC_IQ2_LANES 16

typedef struct tc_iq2_lists {
    const int32_t *map; /* 43692 entries */
    const uint16_t *list;
    /* bit code & 31 of word code >> 5: map[code] >= 0 (43692 bits, 5.3 KB: stays in L1 where
     * the map, 171 KB, does not) */
    const uint32_t *on;
} tc_iq2_lists;

/* `t` TC_DTYPE_IQ2_XXS or TC_DTYPE_IQ2_XS. Built once, thread-safely; never freed. */
const tc_iq2_lists *tc_iq2_lists_get(int t);

/*
 * What the IQ2 list builders (this one, iq2q_lists.c, and IQ2_S's, iq2s_lists.c) share: the walk
 * over the 3^8 groups of levels 0..2 in base-3 order (c3 = sum of level j * 3^j; code: 2 bits
 * per element, iq_grid.h's map index). A group on the grid goes to on_grid with its grid index;
 * one off it to off_grid with its neighbour list nb in iq_grid.h's form (count, then grid
 * indices) and the room taken by the records before it, and returns the room its own record
 * takes (0: failure). The walk returns the total room (0 on failure); run it once to size the
 * tables, once to fill them.
 */
typedef struct tc_iq2_visit {
    void (*on_grid)(void *ctx, int c3, int code, int index);
    size_t (*off_grid)(void *ctx, int c3, int code, const uint16_t *nb, size_t at);
} tc_iq2_visit;

size_t tc_iq2_walk(const tc_iq2_search *S, const tc_iq2_visit *v, void *ctx);

/* The code of a grid point (bytes 1/3/5: levels 0..2). */
int tc_iq2_grid_code(uint64_t g);

#endif /* TC_IQ2Q_H */
