/*
 * iq_grid.c - the grid quantizers' search tables (see iq_grid.h), built from the lattice tables
 * in iq_tables.c the way ggml's iq2xs_init_impl() / iq3xs_init_impl() build theirs.
 *
 * ggml starts from packed level codes (kgrid_2bit_256 & co.); we start from the dequantization
 * grids, which hold the same points in the same order as magnitudes (IQ2: {8, 25, 43}, IQ3_XXS:
 * {4, 12, ..., 62}, IQ3_S: {1, 3, ..., 15}) or as IQ1's int8 {-1, 0, +1}. A point's level l is the
 * rank of its value among the grid's distinct values, which is what ggml's codes hold.
 *
 * The neighbour lists: ggml sorts all grid points by (squared distance, index) for every
 * off-grid code and keeps those at the `nwant` smallest distinct distances. Distances here are
 * small integers (at most 8 * 4^2 for the 2-bit grids, 4 * 14^2 for the 3-bit ones), so one
 * pass buckets the points by distance, in index order within a bucket: the same lists in the
 * same order, without a sort per code (ggml needs seconds for IQ1_S's 2048-point grid).
 */
#include "iq_grid.h"
#include "iq_tables.h"
#include "tc_dtype.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define IQ2_KMAP 43692 /* codes 0..43691: the largest is 8 elements at level 2 */
#define IQ3_KMAP 4096
#define MAX_D2   (4 * 196 + 1) /* bound of both grids' squared distances, +1 */

/* The level (0..n-1) of each of the 256 byte values that occur in `vals` (n distinct), by
 * value order; `is_signed` compares bytes as int8. Returns the count of distinct values. */
static int levels_of(const uint8_t *vals, size_t nvals, int is_signed, int level[256])
{
    int present[256] = {0};
    for (size_t i = 0; i < nvals; i++)
        present[vals[i]] = 1;
    int n = 0;
    for (int v = is_signed ? -128 : 0; v < (is_signed ? 128 : 256); v++) {
        uint8_t b = (uint8_t)v;
        level[b] = present[b] ? n++ : -1;
    }
    return n;
}

/*
 * Fill map[] and neighbours for a grid of `gsize` points of `width` elements (levels at pos[],
 * 2*l+1 each), codes of `bits` bits per element. Returns the neighbour array or NULL.
 */
static uint16_t *build_search(const int8_t *pos, int gsize, int width, int bits, int kmap,
                              int nwant, int *map)
{
    int *dist = malloc((size_t)gsize * sizeof *dist);
    int *count = calloc(MAX_D2, sizeof *count);
    if (dist == NULL || count == NULL) {
        free(dist);
        free(count);
        return NULL;
    }
    for (int i = 0; i < kmap; i++)
        map[i] = -1;
    for (int k = 0; k < gsize; k++) {
        int code = 0;
        for (int j = 0; j < width; j++)
            code |= ((pos[k * width + j] - 1) / 2) << (bits * j);
        map[code] = k;
    }
    /* two passes: count each code's list, then write it */
    uint16_t *nb = NULL;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        for (int code = 0; code < kmap; code++) {
            if (map[code] >= 0)
                continue; /* on the grid (off-grid codes stay negative in both passes) */
            int8_t p[8];
            for (int j = 0; j < width; j++)
                p[j] = (int8_t)(2 * ((code >> (bits * j)) & ((1 << bits) - 1)) + 1);
            memset(count, 0, MAX_D2 * sizeof *count);
            for (int k = 0; k < gsize; k++) {
                int d2 = 0;
                for (int j = 0; j < width; j++) {
                    int d = pos[k * width + j] - p[j];
                    d2 += d * d;
                }
                dist[k] = d2;
                count[d2]++;
            }
            /* the nwant smallest distinct distances: all points up to the last of them */
            int have = 0, limit = -1;
            for (int d = 0; d < MAX_D2 && have < nwant; d++)
                if (count[d]) {
                    have++;
                    limit = d;
                }
            size_t n = 0;
            for (int d = 0; d <= limit; d++)
                n += (size_t)count[d];
            if (pass == 0) {
                total += 1 + n;
                continue;
            }
            map[code] = -(int)at - 1;
            nb[at++] = (uint16_t)n;
            for (int d = 0; d <= limit; d++) /* by distance, then index: ggml's sort order */
                if (count[d])
                    for (int k = 0; k < gsize; k++)
                        if (dist[k] == d)
                            nb[at++] = (uint16_t)k;
        }
        if (pass == 0 && (nb = malloc(total * sizeof *nb)) == NULL)
            break;
    }
    free(dist);
    free(count);
    return nb;
}

/* ---- IQ2 family (8-element groups) ---- */

static tc_iq2_search iq2[4];
static pthread_once_t iq2_once[4] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
                                     PTHREAD_ONCE_INIT};

static void iq2_build(int gi)
{
    static const uint64_t *const grids[4] = {tc_iq2xxs_grid, tc_iq2xs_grid, tc_iq1s_grid,
                                             tc_iq2s_grid};
    static const int sizes[4] = {256, 512, 2048, 1024};
    static const int nwant[4] = {2, 2, 3, 1}; /* as ggml: IQ1 3, IQ2_S 1, others 2 */
    const int gsize = sizes[gi];
    const uint8_t *bytes = (const uint8_t *)grids[gi];
    int level[256];
    if (levels_of(bytes, (size_t)gsize * 8, gi == 2, level) != 3)
        return;
    uint64_t *grid = malloc((size_t)gsize * sizeof *grid);
    int *map = malloc(IQ2_KMAP * sizeof *map);
    int8_t *pos = malloc((size_t)gsize * 8);
    uint16_t *nb = NULL;
    if (grid && map && pos) {
        for (int k = 0; k < gsize; k++) {
            uint64_t e = grids[gi][k], g = 0;
            for (int j = 0; j < 8; j++) {
                int8_t v = (int8_t)(2 * level[(uint8_t)(e >> 8 * j)] + 1);
                pos[k * 8 + j] = v;
                g |= (uint64_t)(uint8_t)v << 8 * j;
            }
            grid[k] = g;
        }
        nb = build_search(pos, gsize, 8, 2, IQ2_KMAP, nwant[gi], map);
    }
    free(pos);
    if (nb == NULL) {
        free(grid);
        free(map);
        return;
    }
    iq2[gi] = (tc_iq2_search){grid, map, nb, gsize};
}

static void iq2_build0(void)
{
    iq2_build(0);
}
static void iq2_build1(void)
{
    iq2_build(1);
}
static void iq2_build2(void)
{
    iq2_build(2);
}
static void iq2_build3(void)
{
    iq2_build(3);
}

const tc_iq2_search *tc_iq2_search_get(int t)
{
    static void (*const build[4])(void) = {iq2_build0, iq2_build1, iq2_build2, iq2_build3};
    int gi = t == TC_DTYPE_IQ2_XXS                        ? 0
             : t == TC_DTYPE_IQ2_XS                       ? 1
             : t == TC_DTYPE_IQ1_S || t == TC_DTYPE_IQ1_M ? 2
             : t == TC_DTYPE_IQ2_S                        ? 3
                                                          : -1;
    if (gi < 0)
        return NULL;
    pthread_once(&iq2_once[gi], build[gi]);
    return iq2[gi].grid ? &iq2[gi] : NULL;
}

/* ---- IQ3 family (4-element groups) ---- */

static tc_iq3_search iq3[2];
static pthread_once_t iq3_once[2] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};

static void iq3_build(int gi)
{
    const uint32_t *src = gi == 0 ? tc_iq3xxs_grid : tc_iq3s_grid;
    const int gsize = gi == 0 ? 256 : 512;
    int level[256];
    if (levels_of((const uint8_t *)src, (size_t)gsize * 4, 0, level) != 8)
        return;
    uint32_t *grid = malloc((size_t)gsize * sizeof *grid);
    int *map = malloc(IQ3_KMAP * sizeof *map);
    int8_t *pos = malloc((size_t)gsize * 4);
    uint16_t *nb = NULL;
    if (grid && map && pos) {
        for (int k = 0; k < gsize; k++) {
            uint32_t g = 0;
            for (int j = 0; j < 4; j++) {
                int8_t v = (int8_t)(2 * level[(uint8_t)(src[k] >> 8 * j)] + 1);
                pos[k * 4 + j] = v;
                g |= (uint32_t)(uint8_t)v << 8 * j;
            }
            grid[k] = g;
        }
        nb = build_search(pos, gsize, 4, 3, IQ3_KMAP, gi == 0 ? 2 : 3, map);
    }
    free(pos);
    if (nb == NULL) {
        free(grid);
        free(map);
        return;
    }
    iq3[gi] = (tc_iq3_search){grid, map, nb, gsize};
}

static void iq3_build0(void)
{
    iq3_build(0);
}
static void iq3_build1(void)
{
    iq3_build(1);
}

const tc_iq3_search *tc_iq3_search_get(int grid_size)
{
    int gi = grid_size == 256 ? 0 : grid_size == 512 ? 1 : -1;
    if (gi < 0)
        return NULL;
    pthread_once(&iq3_once[gi], gi == 0 ? iq3_build0 : iq3_build1);
    return iq3[gi].grid ? &iq3[gi] : NULL;
}
