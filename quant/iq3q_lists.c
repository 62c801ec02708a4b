/*
 * iq3q_lists.c - the IQ3_XXS / IQ3_S neighbour lists as level codes (iq3q.h), for the SIMD
 * quantizers: the lists of iq_grid.h, the same points in the same order, each point given by its
 * code4 (a nibble per element) instead of its grid index, padded for whole vectors of candidates.
 * Plain C: built once per grid.
 */
#include "iq3q.h"

#include <pthread.h>
#include <stdlib.h>

#define IQ3_KMAP 4096

static tc_iq3_lists lists[2];
static int lists_ok[2];
static pthread_once_t lists_once[2] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};

/* The code4 of grid point g (bytes 2*l + 1). */
static uint16_t grid_code(uint32_t g)
{
    unsigned c = 0;
    for (int i = 0; i < 4; i++)
        c |= ((g >> (8 * i + 1)) & 7) << 4 * i;
    return (uint16_t)c;
}

static void lists_build(int gi)
{
    const tc_iq3_search *S = tc_iq3_search_get(gi ? 512 : 256);
    if (S == NULL)
        return;
    int32_t *map = malloc(IQ3_KMAP * sizeof *map);
    uint16_t *list = NULL;
    if (map == NULL)
        return;
    size_t total = 0;
    for (int code = 0; code < IQ3_KMAP; code++) {
        const int m = S->map[code];
        if (m < 0 && S->neighbours[-m - 1] == 0) { /* never: the searches assume n >= 1 */
            free(map);
            return;
        }
        if (m < 0)
            total += 1 + (size_t)(S->neighbours[-m - 1] + TC_IQ3_LANES - 1) / TC_IQ3_LANES *
                             TC_IQ3_LANES;
    }
    if ((list = malloc(total * sizeof *list)) == NULL) {
        free(map);
        return;
    }
    size_t at = 0;
    for (int code = 0; code < IQ3_KMAP; code++) {
        const int m = S->map[code];
        if (m >= 0) {
            map[code] = m;
            continue;
        }
        const uint16_t *nb = S->neighbours - m - 1;
        const int n = nb[0];
        const int padded = (n + TC_IQ3_LANES - 1) / TC_IQ3_LANES * TC_IQ3_LANES;
        map[code] =
            ~(int32_t)(at << 3 | (size_t)(n <= 4) << 2 | (size_t)((n > 8) + (n > 16) + (n > 32)));
        list[at] = (uint16_t)n;
        for (int j = 0; j < padded; j++)
            list[at + 1 + (size_t)j] = grid_code(S->grid[nb[1 + (j < n ? j : n - 1)]]);
        at += 1 + (size_t)padded;
    }
    lists[gi] = (tc_iq3_lists){map, list, grid_code(S->grid[0])};
    lists_ok[gi] = 1;
}

static void lists_build0(void)
{
    lists_build(0);
}

static void lists_build1(void)
{
    lists_build(1);
}

const tc_iq3_lists *tc_iq3_lists_get(int grid_size)
{
    const int gi = grid_size == 512;
    if (!gi && grid_size != 256)
        return NULL;
    pthread_once(&lists_once[gi], gi ? lists_build1 : lists_build0);
    return lists_ok[gi] ? &lists[gi] : NULL;
}
