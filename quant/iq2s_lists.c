/*
 * iq2s_lists.c - the IQ2_S search tables of iq2s.h for the SIMD quantizers: iq_grid.h's map and
 * neighbour lists, the same points in the same order, as group entries and term indices, padded
 * for whole vectors of candidates. Plain C: built once.
 */
#include "iq2s.h"
#include "tc_dtype.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#define IQ2_KMAP 43692
#define NCODE3   6561

static tc_iq2s_lists lists;
static int lists_ok;
static pthread_once_t lists_once = PTHREAD_ONCE_INIT;

/* The code2 of grid point g (bytes 1/3/5)... */
static int grid_code(uint64_t g)
{
    int c = 0;
    for (int i = 0; i < 8; i++)
        c |= (int)(((g >> 8 * i) & 0xff) - 1) / 2 << 2 * i;
    return c;
}

/* ...and its term indices: nibble j = 4 * (j mod 4) + level j. */
static uint32_t code_word(int code)
{
    uint32_t w = 0;
    for (int j = 0; j < 8; j++)
        w |= (uint32_t)(4 * (j % 4) + (code >> 2 * j & 3)) << 4 * j;
    return w;
}

static void lists_build(void)
{
    const tc_iq2_search *S = tc_iq2_search_get(TC_DTYPE_IQ2_S);
    if (S == NULL || S->grid_size > 1 << 15)
        return;
    int32_t *map3 = malloc(NCODE3 * sizeof *map3), *map2 = malloc(IQ2_KMAP * sizeof *map2);
    int32_t *entry = malloc((size_t)S->grid_size * sizeof *entry);
    uint32_t *list = malloc(NCODE3 * sizeof *list), *lst = NULL;
    if (map3 == NULL || map2 == NULL || entry == NULL || list == NULL)
        goto fail;
    for (int g = 0; g < S->grid_size; g++)
        entry[g] = g << 16 | grid_code(S->grid[g]);
    for (int c = 0; c < IQ2_KMAP; c++)
        map2[c] = entry[0];
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        int nlist = 0;
        for (int c3 = 0; c3 < NCODE3; c3++) {
            int c = 0;
            for (int i = 0, t = c3; i < 8; i++, t /= 3)
                c |= t % 3 << 2 * i;
            const int m = S->map[c];
            if (m >= 0) {
                map3[c3] = map2[c] = m << 16 | c;
                continue;
            }
            const uint16_t *nb = S->neighbours - m - 1;
            const int n = nb[0];
            if (n == 0) /* never: the searches assume n >= 1 */
                goto fail;
            if (pass == 1) {
                const int cls = (n > 8) + (n > 16) + (n > 32);
                map3[c3] = map2[c] = (int32_t)((uint32_t)INT_MIN | (uint32_t)cls << 29 |
                                               (uint32_t)nlist << 16 | (uint32_t)c);
                list[nlist] = (uint32_t)at;
                lst[at] = (uint32_t)n;
                uint16_t *gi = (uint16_t *)(lst + at + 1 + n);
                for (int j = 0; j < n; j++) {
                    lst[at + 1 + (size_t)j] = code_word(grid_code(S->grid[nb[1 + j]]));
                    gi[j] = nb[1 + j];
                }
            }
            nlist++;
            at += 1 + (size_t)n + (size_t)(n + 1) / 2;
        }
        if (nlist >= 1 << 13) /* the entry has 13 bits for it */
            goto fail;
        if (pass == 0 && (lst = calloc(at, sizeof *lst)) == NULL)
            goto fail;
    }
    lists = (tc_iq2s_lists){map3, map2, entry, list, lst, map3[0] >= 0 ? map3[0] : 0};
    lists_ok = 1;
    return;
fail:
    free(map3);
    free(map2);
    free(entry);
    free(list);
    free(lst);
}

const tc_iq2s_lists *tc_iq2s_lists_get(void)
{
    pthread_once(&lists_once, lists_build);
    return lists_ok ? &lists : NULL;
}
