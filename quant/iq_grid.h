/*
 * iq_grid.h - private to quant/: the search tables the grid quantizers (IQ2_XXS, IQ2_XS, IQ2_S,
 * IQ1_S, IQ1_M, IQ3_XXS, IQ3_S) look points up in. They are ggml's iq2_data[] / iq3_data[]
 * (what iq2xs_init_impl() and iq3xs_init_impl() build), with the same contents and meaning, so a
 * quantizer written against them follows ggml's reference step by step:
 *
 * - grid[k]: grid point k with element j in byte j as the odd level 2*l+1 (l = 0..2 for the
 *   2-bit grids and IQ1's {-1, 0, +1}; l = 0..7 for the 3-bit grids): int8 for tc_iq2_search,
 *   uint8 for tc_iq3_search.
 * - map[code]: code packs the levels l of one group, 2 bits per element for the 8-element
 *   groups (kmap size 43692), 3 bits for the 4-element groups (4096). >= 0: the grid index of
 *   that point; < 0: the point is off the grid and -map[code] - 1 is the offset in neighbours[]
 *   of its list: a count n followed by n grid indices, the nearest points (all those at the
 *   closest `nwant` distinct squared distances, ties by index), as ggml orders them.
 *
 * Built on first use, once, thread-safely (pthread_once); never freed. Lookups never fail after
 * the first call returns non-NULL; NULL only for an unknown type or when memory ran out.
 */
#ifndef TC_IQ_GRID_H
#define TC_IQ_GRID_H

#include <float.h>
#include <stdint.h>

typedef struct tc_iq2_search {
    const uint64_t *grid;       /* grid_size entries, 8 x int8 levels 1/3/5 */
    const int *map;             /* 43692 entries */
    const uint16_t *neighbours; /* lists as described above */
    int grid_size;              /* 256 IQ2_XXS, 512 IQ2_XS, 1024 IQ2_S, 2048 IQ1_S/IQ1_M */
} tc_iq2_search;

typedef struct tc_iq3_search {
    const uint32_t *grid; /* grid_size entries, 4 x uint8 levels 1/3/.../15 */
    const int *map;       /* 4096 entries */
    const uint16_t *neighbours;
    int grid_size; /* 256 IQ3_XXS, 512 IQ3_S */
} tc_iq3_search;

/* `t` one of TC_DTYPE_IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M (IQ1_S and IQ1_M share one). */
const tc_iq2_search *tc_iq2_search_get(int t);

/* `grid_size` 256 (IQ3_XXS) or 512 (IQ3_S). */
const tc_iq3_search *tc_iq3_search_get(int grid_size);

/*
 * The neighbour search's inner loop (ggml's iq2/iq1 find_best_neighbour): of the points listed
 * at nb[1..n] (nb[0] = n) of a 2-bit grid whose bytes are 1, 3 or 5, the first of those with the
 * smallest distance, each distance the sum from 0, in element order, of term[8*i + byte i].
 * Adding 8*i to byte i of the point turns it into the 8 term indices at once (no carries:
 * bytes are at most 5 + 56).
 */
static inline int tc_iq_nearest_listed(const uint16_t *nb, const uint64_t *grid,
                                       const float term[64])
{
    const uint64_t row = 0x3830282018100800u; /* 8*i in byte i */
    const int n = nb[0];
    float best_d2 = FLT_MAX;
    int best = nb[1];
    for (int j = 1; j <= n; ++j) {
        const uint64_t t = grid[nb[j]] + row;
        float d2 = 0; /* unrolled: this is the quantizers' hottest loop */
        d2 += term[t & 0xff];
        d2 += term[(t >> 8) & 0xff];
        d2 += term[(t >> 16) & 0xff];
        d2 += term[(t >> 24) & 0xff];
        d2 += term[(t >> 32) & 0xff];
        d2 += term[(t >> 40) & 0xff];
        d2 += term[(t >> 48) & 0xff];
        d2 += term[t >> 56];
        if (d2 < best_d2) {
            best_d2 = d2;
            best = nb[j];
        }
    }
    return best;
}

#endif /* TC_IQ_GRID_H */
