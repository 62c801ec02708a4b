/*
 * iq2q_lists.c - the IQ2_XXS / IQ2_XS neighbour lists as level codes (iq2q.h), for the SIMD
 * quantizers: the lists of iq_grid.h, same points in the same order, each point given by its
 * code (2 bits per element) instead of its grid index, padded for whole vectors of candidates.
 * Only the 3^8 codes a group can have (levels 0..2) get a list. Plain C: built once per type.
 */
#include "iq2q.h"
#include "tc_dtype.h"

#include <pthread.h>
#include <stdlib.h>

#define IQ2_KMAP 43692

static tc_iq2_lists lists[2];
static int lists_ok[2];
static pthread_once_t lists_once[2] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};

/* The level code of grid point g (bytes 1/3/5). */
static int grid_code(uint64_t g)
{
    int c = 0;
    for (int i = 0; i < 8; i++)
        c |= (int)(((g >> 8 * i) & 0xff) - 1) / 2 << 2 * i;
    return c;
}

static void lists_build(int xs)
{
    const tc_iq2_search *S = tc_iq2_search_get(xs ? TC_DTYPE_IQ2_XS : TC_DTYPE_IQ2_XXS);
    if (S == NULL)
        return;
    int32_t *map = malloc(IQ2_KMAP * sizeof *map);
    uint16_t *list = NULL;
    size_t total = 0;
    for (int pass = 0; pass < 2 && map; pass++) {
        size_t at = 0;
        for (int c3 = 0; c3 < 6561; c3++) {
            int code = 0;
            for (int i = 0, t = c3; i < 8; i++, t /= 3)
                code |= t % 3 << 2 * i;
            const int m = S->map[code];
            if (m >= 0) {
                map[code] = m;
                continue;
            }
            const uint16_t *nb = S->neighbours - m - 1;
            const int n = nb[0];
            const size_t padded = (size_t)(n + TC_IQ2_LANES - 1) / TC_IQ2_LANES * TC_IQ2_LANES;
            if (pass == 1) {
                map[code] = -(int32_t)at - 1;
                list[at] = (uint16_t)n;
                for (size_t j = 0; j < padded; j++)
                    list[at + 1 + j] =
                        j < (size_t)n ? (uint16_t)grid_code(S->grid[nb[1 + j]]) : 0xffff;
            }
            at += 1 + padded;
        }
        total = at;
        if (pass == 0) {
            /* codes with a level 3 never occur: point them at grid index 0 */
            for (int code = 0; code < IQ2_KMAP; code++)
                map[code] = 0;
            if ((list = malloc((total + TC_IQ2_LANES) * sizeof *list)) == NULL)
                break;
        }
    }
    if (map == NULL || list == NULL) {
        free(map);
        free(list);
        return;
    }
    lists[xs] = (tc_iq2_lists){map, list};
    lists_ok[xs] = 1;
}

static void lists_build0(void)
{
    lists_build(0);
}

static void lists_build1(void)
{
    lists_build(1);
}

const tc_iq2_lists *tc_iq2_lists_get(int t)
{
    const int xs = t == TC_DTYPE_IQ2_XS;
    if (!xs && t != TC_DTYPE_IQ2_XXS)
        return NULL;
    pthread_once(&lists_once[xs], xs ? lists_build1 : lists_build0);
    return lists_ok[xs] ? &lists[xs] : NULL;
}
