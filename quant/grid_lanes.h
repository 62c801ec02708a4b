/*
 * grid_lanes.h - private to quant/: pieces the grid quantizers' lane templates share, written in
 * the vector ops of grid_ops_avx2.h / grid_ops_avx512.h (include it after them, from the
 * template).
 */
#ifndef TC_GRID_LANES_H
#define TC_GRID_LANES_H

#include <stdint.h>

/*
 * The end of a neighbour search with one candidate per lane: lane j kept its first strictly
 * smaller distance best[j] at list position bpos[j]. The reference's answer is the first
 * position holding the smallest distance: the lanes equal to the minimum (no NaN: a lane only
 * takes a strictly smaller one), then the smallest of their positions.
 */
TC_ISA_ATTR static inline int tc_lanes_first_best(VF best, VI bpos)
{
    const unsigned eq = M_BITS(M_CMP(best, F_HMIN(best), _CMP_EQ_OQ));
    int32_t bp[W];
    I_STOREU(bp, bpos);
    int p = bp[__builtin_ctz(eq)];
    for (unsigned e = eq & (eq - 1); e; e &= e - 1) /* lanes tied: the first position */
        if (bp[__builtin_ctz(e)] < p)
            p = bp[__builtin_ctz(e)];
    return p;
}

#endif /* TC_GRID_LANES_H */
