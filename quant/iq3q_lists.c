/*
 * iq3q_lists.c - the IQ3_XXS / IQ3_S neighbour lists as level codes (iq3q.h), for the SIMD
 * quantizers: the lists of iq_grid.h, the same points in the same order, each point given by its
 * code4 (a nibble per element) instead of its grid index, padded for whole vectors of candidates.
 * Plain C: built once per grid.
 */
#include "iq3q.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* The run data (iq3q.h) of the n points of code4s c at r; returns its length in words. */
static size_t run_build(uint32_t *r, const uint16_t *c, int n)
{
    unsigned used[4] = {0};
    for (int j = 0; j < n; j++)
        for (int e = 0; e < 4; e++)
            used[e] |= 1u << (c[j] >> 4 * e & 7);
    int slot[4][8], np = 0;
    for (int e = 0; e < 4; e++)
        for (int l = 0; l < 8; l++)
            if (used[e] >> l & 1) {
                slot[e][l] = np;
                r[2 + np++] =
                    (uint32_t)(l * TC_IQ3_RUN_SQ_BYTES) | (uint32_t)(e * TC_IQ3_RUN_X_BYTES) << 16;
            }
    const int nd = np <= 16 ? 16 : 32;
    for (int j = np; j < nd; j++)
        r[2 + j] = r[2 + np - 1];
    const int nc = n <= 4 ? 4 : n <= 8 ? 8 : n <= 16 ? 16 : n <= 32 ? 32 : (n + 7) / 8 * 8;
    r[0] = (uint32_t)np | (uint32_t)nc << 8;
    r[1] = (uint32_t)(2 + nd);
    uint32_t *cand = r + 2 + nd;
    for (int j = 0; j < nc; j++) {
        const unsigned cj = c[j < n ? j : n - 1];
        uint64_t s = 0;
        for (int e = 0; e < 4; e++)
            s |= (uint64_t)(32 * slot[e][cj >> 4 * e & 7]) << 16 * e;
        memcpy(cand + 2 * j, &s, sizeof s);
        cand[2 * nc + j] = cj;
    }
    return (size_t)(2 + nd + 3 * nc);
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
    /* run data: at most 2 + 32 descriptors and 2 words per padded candidate */
    size_t rtotal = 0;
    for (int code = 0; code < IQ3_KMAP; code++) {
        const int m = S->map[code];
        if (m < 0)
            rtotal += 2 + 32 + 3 * (size_t)(S->neighbours[-m - 1] + 31);
    }
    uint32_t *rofs = NULL, *run = NULL;
    if ((list = malloc(total * sizeof *list)) == NULL ||
        (rofs = calloc(total, sizeof *rofs)) == NULL ||
        (run = malloc(rtotal * sizeof *run)) == NULL) {
        free(map);
        free(list);
        free(rofs);
        return;
    }
    size_t rat = 0;
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
        rofs[at] = (uint32_t)rat;
        rat += run_build(run + rat, list + at + 1, n);
        at += 1 + (size_t)padded;
    }
    lists[gi] = (tc_iq3_lists){map, list, grid_code(S->grid[0]), rofs, run};
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
