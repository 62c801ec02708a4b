/*
 * iq2s_lists.c - the IQ2_S search tables of iq2s.h for the SIMD quantizers: iq_grid.h's map and
 * neighbour lists, the same points in the same order, as group entries and term indices, padded
 * for whole vectors of candidates, by the walk iq2q_lists.c shares with the IQ2_XXS / IQ2_XS
 * lists. Plain C: built once.
 */
#include "iq2q.h"
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

/* The term indices of a code2: nibble j = 4 * (j mod 4) + level j. */
static uint32_t code_word(int code)
{
    uint32_t w = 0;
    for (int j = 0; j < 8; j++)
        w |= (uint32_t)(4 * (j % 4) + (code >> 2 * j & 3)) << 4 * j;
    return w;
}

/* The walk's state (iq2q.h's tc_iq2_walk): the tables being filled (lst NULL: only sizing) and
 * the lists so far. */
typedef struct build_ctx {
    const tc_iq2_search *S;
    int32_t *map3, *map2;
    uint32_t *list, *lst;
    int nlist;
} build_ctx;

static void put_on_grid(void *ctx, int c3, int code, int index)
{
    build_ctx *b = ctx;
    b->map3[c3] = b->map2[code] = index << 16 | code;
}

/* A list's record: its count, the term indices of its points, then their grid indices. */
static size_t put_off_grid(void *ctx, int c3, int code, const uint16_t *nb, size_t at)
{
    build_ctx *b = ctx;
    const int n = nb[0];
    if (n == 0) /* never: the searches assume n >= 1 */
        return 0;
    if (b->lst) {
        const int cls = (n > 8) + (n > 16) + (n > 32);
        b->map3[c3] = b->map2[code] = (int32_t)((uint32_t)INT_MIN | (uint32_t)cls << 29 |
                                                (uint32_t)b->nlist << 16 | (uint32_t)code);
        b->list[b->nlist] = (uint32_t)at;
        uint32_t *l = b->lst + at;
        l[0] = (uint32_t)n;
        uint16_t *gi = (uint16_t *)(l + 1 + n);
        for (int j = 0; j < n; j++) {
            l[1 + j] = code_word(tc_iq2_grid_code(b->S->grid[nb[1 + j]]));
            gi[j] = nb[1 + j];
        }
    }
    b->nlist++;
    return 1 + (size_t)n + (size_t)(n + 1) / 2;
}

static void lists_build(void)
{
    static const tc_iq2_visit visit = {put_on_grid, put_off_grid};
    const tc_iq2_search *S = tc_iq2_search_get(TC_DTYPE_IQ2_S);
    if (S == NULL || S->grid_size > 1 << 15)
        return;
    build_ctx b = {S,
                   malloc(NCODE3 * sizeof(int32_t)),
                   malloc(IQ2_KMAP * sizeof(int32_t)),
                   malloc(NCODE3 * sizeof(uint32_t)),
                   NULL,
                   0};
    int32_t *entry = malloc((size_t)S->grid_size * sizeof *entry);
    size_t total;
    if (b.map3 == NULL || b.map2 == NULL || entry == NULL || b.list == NULL)
        goto fail;
    for (int g = 0; g < S->grid_size; g++)
        entry[g] = g << 16 | tc_iq2_grid_code(S->grid[g]);
    for (int c = 0; c < IQ2_KMAP; c++)
        b.map2[c] = entry[0];
    total = tc_iq2_walk(S, &visit, &b);
    if (total == 0 || b.nlist >= 1 << 13) /* the entry has 13 bits for the list number */
        goto fail;
    if ((b.lst = calloc(total, sizeof *b.lst)) == NULL)
        goto fail;
    b.nlist = 0;
    tc_iq2_walk(S, &visit, &b);
    lists = (tc_iq2s_lists){b.map3, b.map2, entry, b.list, b.lst, b.map3[0] >= 0 ? b.map3[0] : 0};
    lists_ok = 1;
    return;
fail:
    free(b.map3);
    free(b.map2);
    free(entry);
    free(b.list);
    free(b.lst);
}

const tc_iq2s_lists *tc_iq2s_lists_get(void)
{
    pthread_once(&lists_once, lists_build);
    return lists_ok ? &lists : NULL;
}
